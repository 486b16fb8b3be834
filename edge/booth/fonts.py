"""The CJK font the booth's PDFs (payment slip, receipts) are set in, and a PDF document that uses it.

Looked for in this order: the ``PARKGATE_CJK_FONT`` environment variable (a path, optionally ``#n`` for the n-th
face of a collection), the PyPI package ``pylopdf-fonts-zh-cn`` (Noto Sans SC), the PyPI package
``noto-cjk-sans-otc`` (Noto Sans CJK collection, SC face), then Debian's ``fonts-noto-cjk`` and
``fonts-wqy-microhei`` / ``fonts-wqy-zenhei``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FONT_ENV = "PARKGATE_CJK_FONT"
FAMILY = "cjk"
# Noto Sans CJK collections hold JP, KR, SC, TC, HK in that order
_SC_FACE = 2
_DEBIAN = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", _SC_FACE),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)


class MissingFontError(RuntimeError):
    """No CJK font found to set Chinese text in a PDF."""


@dataclass(frozen=True, slots=True)
class CjkFont:
    path: Path
    face: int = 0  # the face within a font collection (.ttc)


def _from_package(module: str, attribute: str, face: int) -> CjkFont | None:
    if importlib.util.find_spec(module) is None:
        return None
    found: Any = getattr(importlib.import_module(module), attribute)
    path = Path(str(found() if callable(found) else found))
    return CjkFont(path, face) if path.is_file() else None


def find_cjk_font() -> CjkFont:
    """The first CJK font available (see the module's docstring for the order)."""
    configured = os.environ.get(FONT_ENV)
    if configured:
        text, _, index = configured.partition("#")
        if not Path(text).is_file():
            raise MissingFontError(f"{FONT_ENV}={configured!r}: no such font file")
        return CjkFont(Path(text), int(index or 0))
    for module, attribute, face in (
        ("pylopdf_fonts_zh_cn", "sans_path", 0),
        ("noto_cjk_sans_otc", "FONT_PATH", _SC_FACE),
    ):
        found = _from_package(module, attribute, face)
        if found is not None:
            return found
    for debian_path, debian_face in _DEBIAN:
        if Path(debian_path).is_file():
            return CjkFont(Path(debian_path), debian_face)
    raise MissingFontError(
        "no CJK font for PDFs: pip install pylopdf-fonts-zh-cn (or apt-get install fonts-noto-cjk), "
        f"or set {FONT_ENV} to a .ttf/.otf/.ttc file"
    )


def cjk_document(*, page: str | tuple[float, float] = "A4", font: CjkFont | None = None) -> Any:
    """A new fpdf2 document (one page added) with the CJK font registered as family ``cjk``."""
    from fpdf import FPDF  # the PDF stack loads when a PDF is made, not with the edge (start-up time, RSS)

    font = font or find_cjk_font()
    pdf = FPDF(format=page)
    pdf.set_auto_page_break(auto=True, margin=8)
    pdf.set_margins(8, 8, 8)
    pdf.add_font(FAMILY, "", str(font.path), collection_font_number=font.face)
    pdf.set_font(FAMILY, size=10)
    pdf.add_page()
    return pdf
