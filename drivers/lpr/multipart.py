"""multipart/form-data as cameras send it, parsed without I/O.

Hikvision's ISAPI push is ``multipart/form-data; boundary=...`` with an XML part (``anpr.xml``) and JPEG parts
(``licensePlatePicture.jpg``, ``vehiclePicture.jpg`` or ``detectionPicture.jpg``). Firmware varies: parts with or
without Content-Length, LF instead of CRLF, a missing closing delimiter. When no Content-Type header is at hand (a
capture file), the boundary is taken from the body's first line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.lpr.errors import LprProtocolError

MAX_PARTS = 16
_BOUNDARY = re.compile(r"""boundary\s*=\s*"?([^";,\s]+)"?""", re.IGNORECASE)
_PARAM = re.compile(r"""(\w+)\s*=\s*"([^"]*)"|(\w+)\s*=\s*([^;\s]+)""")


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str]  # lower-case names
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def name(self) -> str:
        """The form field name, else the file name, else empty."""
        params = disposition_params(self.headers.get("content-disposition", ""))
        return params.get("name") or params.get("filename") or ""

    @property
    def filename(self) -> str:
        return disposition_params(self.headers.get("content-disposition", "")).get("filename", "")


def disposition_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for match in _PARAM.finditer(value):
        key = (match.group(1) or match.group(3) or "").lower()
        out[key] = match.group(2) if match.group(1) else match.group(4)
    return out


def boundary_from_header(content_type: str | None) -> str | None:
    """The boundary parameter of a Content-Type header, if it is multipart."""
    if not content_type or "multipart" not in content_type.lower():
        return None
    match = _BOUNDARY.search(content_type)
    return match.group(1) if match else None


def boundary_from_body(body: bytes) -> str | None:
    """The boundary from the body's first non-blank line (``--boundary``)."""
    stripped = body.lstrip(b"\r\n \t")
    if not stripped.startswith(b"--"):
        return None
    line = stripped.split(b"\n", 1)[0].rstrip(b"\r").strip()
    token = line[2:]
    if not token or len(token) > 200 or token.endswith(b"--"):
        return None
    try:
        return token.decode("ascii")
    except UnicodeDecodeError:
        return None


def looks_multipart(body: bytes) -> bool:
    return boundary_from_body(body) is not None


def _find_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Index of the next real delimiter line: at the start of a line, followed by CRLF, LF, ``--`` or blanks."""
    pos = start
    while True:
        pos = body.find(delimiter, pos)
        if pos < 0:
            return -1
        after = body[pos + len(delimiter) : pos + len(delimiter) + 2]
        at_line_start = pos == 0 or body[pos - 1 : pos] == b"\n"
        if at_line_start and (after[:1] in (b"\r", b"\n", b" ", b"\t", b"") or after == b"--"):
            return pos
        pos += 1


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split ``body`` at ``boundary``; raise :class:`LprProtocolError` when there is nothing to split.

    A part's Content-Length, when present and plausible, is trusted (binary pictures may contain anything);
    otherwise the part ends at the next delimiter line.
    """
    delimiter = b"--" + boundary.encode("ascii", "replace")
    pos = _find_delimiter(body, delimiter, 0)
    if pos < 0:
        raise LprProtocolError(f"multipart body without its boundary {boundary!r}", data=body[:64])
    parts: list[Part] = []
    while pos >= 0:
        pos += len(delimiter)
        if body[pos : pos + 2] == b"--":
            break  # closing delimiter
        line_end = body.find(b"\n", pos)
        if line_end < 0:
            break
        head_start = line_end + 1
        head_end = body.find(b"\r\n\r\n", head_start)
        separator = 4
        lf_end = body.find(b"\n\n", head_start)
        if lf_end >= 0 and (head_end < 0 or lf_end < head_end):
            head_end, separator = lf_end, 2
        if head_end < 0:
            raise LprProtocolError("multipart part without a header/body separator", data=body[head_start:][:64])
        if body[head_start:head_end].strip() == b"" and head_end == head_start:
            headers: dict[str, str] = {}
        else:
            headers = _headers(body[head_start:head_end])
        start = head_end + separator
        length = headers.get("content-length", "").strip()
        following = -1
        if length.isascii() and length.isdigit() and start + int(length) <= len(body):
            following = _find_delimiter(body, delimiter, start + int(length))
            if following >= 0 and body[start + int(length) : following].strip(b"\r\n") == b"":
                content = body[start : start + int(length)]
            else:
                following = -1
        if following < 0:
            following = _find_delimiter(body, delimiter, start)
            stop = following if following >= 0 else len(body)
            content = body[start:stop]
            if content.endswith(b"\r\n"):
                content = content[:-2]
            elif content.endswith(b"\n"):
                content = content[:-1]
        parts.append(Part(headers, content))
        if len(parts) > MAX_PARTS:
            raise LprProtocolError(f"more than {MAX_PARTS} parts in a multipart body")
        pos = following
    if not parts:
        raise LprProtocolError("multipart body with no parts", data=body[:64])
    return parts


def _headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.decode("latin-1").strip().lower()] = value.decode("utf-8", "replace").strip()
    return headers


def build_multipart(parts: list[tuple[str, str, str, bytes]], boundary: str = "boundary") -> tuple[bytes, str]:
    """Encode ``(name, filename, content_type, content)`` parts; returns the body and its Content-Type header."""
    out = bytearray()
    for name, filename, content_type, content in parts:
        out += f"--{boundary}\r\n".encode("ascii")
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"Content-Disposition: {disposition}\r\n".encode()
        out += f"Content-Type: {content_type}\r\nContent-Length: {len(content)}\r\n\r\n".encode("ascii")
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode("ascii")
    return bytes(out), f"multipart/form-data; boundary={boundary}"
