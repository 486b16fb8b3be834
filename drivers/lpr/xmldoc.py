"""Reading camera XML safely and tolerantly.

Safety: a document type declaration is refused outright. Without a DTD there are no entity definitions, so entity
expansion ("billion laughs") and external entities cannot happen; cameras never send one. The standard library parser
(expat) then reads the text.

Tolerance: a byte-order mark, an ``encoding`` declaration the standard parser cannot do (GBK, GB2312, GB18030 — many
cameras sold in China declare these), any namespace or none, and elements in any order. The bytes are decoded here
(declared encoding first, then UTF-8, then GB18030) and the declaration removed before parsing.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET  # the DTD is refused before parsing, see the module docstring

from drivers.lpr.errors import LprProtocolError

MAX_DOCUMENT = 1 << 20
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030", "cp936": "gb18030"}


def decode_text(data: bytes) -> str:
    """The document's text: BOM and declaration honoured, GBK read as GB18030 (its superset)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as err:
                raise LprProtocolError(f"document is not valid {encoding}: {err.reason}", data=data[:64]) from err
    declared = None
    declaration = _DECLARATION.match(data)
    if declaration:
        found = _ENCODING.search(declaration.group(0))
        if found:
            declared = found.group(1).decode("ascii").lower()
    candidates = [_ALIASES.get(declared, declared)] if declared else []
    candidates += [c for c in ("utf-8", "gb18030") if c not in candidates]
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise LprProtocolError("document is neither UTF-8 nor GB18030 text", data=data[:64])


def parse_xml(data: bytes) -> ET.Element:
    """Parse camera XML into an element tree (namespaces kept in the tags; use :func:`local`)."""
    if len(data) > MAX_DOCUMENT:
        raise LprProtocolError(f"XML document of {len(data)} bytes is larger than {MAX_DOCUMENT}")
    text = decode_text(data)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise LprProtocolError("XML with a document type declaration is refused (entity expansion)", data=data[:64])
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1, flags=re.IGNORECASE)
    try:
        return ET.fromstring(text)  # noqa: S314  # no DTD can reach the parser (checked above)
    except ET.ParseError as err:
        raise LprProtocolError(f"not well-formed XML: {err}", data=data[:64]) from err


def local(tag: str | object) -> str:
    """An element's name without its namespace (``{http://www.hikvision.com/ver20/XMLSchema}ANPR`` -> ``ANPR``)."""
    name = tag if isinstance(tag, str) else ""
    return name.rsplit("}", 1)[-1]


def child(element: ET.Element | None, name: str) -> ET.Element | None:
    """The first direct child called ``name`` (any namespace, any letter case)."""
    if element is None:
        return None
    wanted = name.lower()
    return next((c for c in element if local(c.tag).lower() == wanted), None)


def text_of(element: ET.Element | None, name: str) -> str | None:
    """Stripped text of the direct child ``name``; ``None`` if missing or empty."""
    found = child(element, name)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def find(element: ET.Element, name: str) -> ET.Element | None:
    """The first descendant called ``name`` (any namespace, any letter case)."""
    wanted = name.lower()
    return next((e for e in element.iter() if local(e.tag).lower() == wanted), None)
