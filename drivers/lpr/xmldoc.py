"""Reading camera XML safely and tolerantly.

Safety: a document type declaration is refused outright. Without a DTD there are no entity definitions, so entity
expansion ("billion laughs") and external entities cannot happen; cameras never send one. The standard library parser
(expat) then reads the text.

Bounds: at most :data:`MAX_DOCUMENT` bytes, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_ELEMENTS` elements
(an ANPR alert has about 80 elements, 5 levels deep); the parser stops at the first element past a bound, so a
deeply nested or very long document costs no more than its first few kilobytes. The text is fed to the parser in
chunks for the same reason.

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
MAX_DEPTH = 32
MAX_ELEMENTS = 4096
_CHUNK = 16 << 10
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
    builder = _BoundedBuilder()
    parser = ET.XMLParser(target=builder)  # noqa: S314  # no DTD can reach the parser (checked above)
    try:
        for start in range(0, len(text), _CHUNK):
            parser.feed(text[start : start + _CHUNK])
        root: ET.Element = parser.close()
    except ET.ParseError as err:
        raise LprProtocolError(f"not well-formed XML: {err}", data=data[:64]) from err
    except _BoundExceededError as err:
        raise LprProtocolError(str(err), data=data[:64]) from None
    return root


class _BoundExceededError(Exception):
    pass


class _BoundedBuilder(ET.TreeBuilder):
    """A tree builder that stops the parse at the first element past :data:`MAX_DEPTH` or :data:`MAX_ELEMENTS`."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self.depth += 1
        self.count += 1
        if self.depth > MAX_DEPTH:
            raise _BoundExceededError(f"XML nested deeper than {MAX_DEPTH} levels")
        if self.count > MAX_ELEMENTS:
            raise _BoundExceededError(f"XML with more than {MAX_ELEMENTS} elements")
        return super().start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self.depth -= 1
        return super().end(tag)


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
