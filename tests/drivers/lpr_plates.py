"""Hypothesis strategies for plate texts: the shapes of real plates, as cameras send them."""

from __future__ import annotations

from hypothesis import strategies as st

from drivers.lpr.fields import PROVINCES, SUFFIXES

_LETTER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_SERIAL = _LETTER + "0123456789"


def real_plates() -> st.SearchStrategy[str]:
    """Standard, new-energy, suffixed, emergency, embassy, military and ASCII-only plates (GA 36 and beyond)."""
    province = st.sampled_from(PROVINCES)
    letter = st.sampled_from(_LETTER)
    serial = st.text(alphabet=_SERIAL, min_size=5, max_size=6)
    digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
    return st.one_of(
        st.builds(lambda p, a, s: p + a + s, province, letter, serial),
        st.builds(lambda p, a, s, x: p + a + s[:4] + x, province, letter, serial, st.sampled_from(SUFFIXES)),
        st.builds(lambda p, a, s: p + a + s[:4] + "应急", province, letter, serial),
        st.builds(lambda s: "使" + s, st.text(alphabet="0123456789", min_size=6, max_size=6)),
        st.builds(lambda a, s, d: "V" + a + s[:4] + d, letter, serial, digits),
        st.builds(lambda p, s, d: "WJ" + p + s[:3] + d, province, serial, digits),
    )
