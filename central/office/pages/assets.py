"""The CJK font the pages use, served by central itself: an office PC may have no Chinese font, and the console
fetches nothing from the internet. Browsers download it once (cached a week) and only when no local font
covers the page's characters first."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pylopdf_fonts_zh_cn import sans_path

router = APIRouter()


@router.get("/font.otf")
def cjk_font() -> Response:
    """Noto Sans SC (SIL Open Font License), from the ``pylopdf-fonts-zh-cn`` package central depends on."""
    return FileResponse(sans_path(), media_type="font/otf", headers={"Cache-Control": "public, max-age=604800"})
