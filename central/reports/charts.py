"""Charts drawn on the server as SVG (no JavaScript, nothing from the internet): a bar chart and a line chart with
their axes, gridlines, labels and a legend; money in major units of the report's currency."""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from markupsafe import Markup

from central.reports.tables import Series
from parking.money import minor_digits

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 16, 16, 48
COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#718096")


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (the top of an axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value))


def _formatter(series: Series, currency: str) -> Callable[[float], str]:
    if not series.money:
        return lambda v: f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"
    digits = minor_digits(currency)
    return lambda v: f"{v / 10**digits:,.{digits}f}" if abs(v) < 10**digits * 1000 else f"{v / 10**digits:,.0f}"


def _top(series: Series) -> float:
    """The axis top: a round number at or above every value; for counts, one whose quarters are whole numbers."""
    top = nice_ceiling(max((v for values in series.values.values() for v in values), default=0))
    return top if series.money else float(math.ceil(top / 4) * 4)


def _frame(series: Series, title: str, currency: str, top: float) -> tuple[list[str], Callable[[float], float]]:
    plot_h = HEIGHT - _TOP - _BOTTOM
    fmt = _formatter(series, currency)

    def y(v: float) -> float:
        return _TOP + plot_h - (v / top) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']  # fmt: skip
    for step in range(5):
        value = top * step / 4
        parts.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'class="grid" stroke="#e2e8f0"/>')  # fmt: skip
        parts.append(f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">'
                     f"{escape(fmt(value))}</text>")  # fmt: skip
    unit = f" ({currency})" if series.money else ""
    parts.append(f'<text x="4" y="{_TOP - 4}" font-size="11">{escape(unit.strip())}</text>')
    parts.append(f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{HEIGHT - _BOTTOM}" stroke="#4a5568"/>')
    parts.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{HEIGHT - _BOTTOM}" y2="{HEIGHT - _BOTTOM}" '
                 'stroke="#4a5568"/>')  # fmt: skip
    return parts, y


def _x_labels(labels: list[str], x: Callable[[int], float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 24))
    return [f'<text x="{x(i):.1f}" y="{HEIGHT - _BOTTOM + 14}" text-anchor="middle" font-size="10">'
            f"{escape(label)}</text>" for i, label in enumerate(labels) if i % every == 0]  # fmt: skip


def _legend(names: list[str], translate: Callable[[str], str]) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        x = _LEFT + i * 140
        parts.append(f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 9}" font-size="11">{escape(translate(name))}</text>')
    return parts


def bar_chart(series: Series, title: str, currency: str = "CNY",
              translate: Callable[[str], str] = str) -> Markup:  # fmt: skip
    """Bars per label (side by side when several series), the y axis from zero to a round top."""
    names = list(series.values)
    top = _top(series)
    parts, y = _frame(series, title, currency, top)
    count = max(1, len(series.labels))
    slot = (WIDTH - _LEFT - _RIGHT) / count
    bar = slot * 0.8 / max(1, len(names))
    fmt = _formatter(series, currency)

    def x(i: int) -> float:
        return _LEFT + slot * (i + 0.5)

    for n, name in enumerate(names):
        for i, value in enumerate(series.values[name]):
            left = _LEFT + slot * i + slot * 0.1 + bar * n
            parts.append(f'<rect x="{left:.1f}" y="{y(max(value, 0)):.1f}" width="{bar:.1f}" '
                         f'height="{y(0) - y(max(value, 0)):.1f}" fill="{COLOURS[n % len(COLOURS)]}">'
                         f"<title>{escape(series.labels[i])}: {escape(fmt(value))}</title></rect>")  # fmt: skip
    parts += _x_labels(series.labels, x) + _legend(names, translate) + ["</svg>"]
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)


def line_chart(series: Series, title: str, currency: str = "CNY",
               translate: Callable[[str], str] = str) -> Markup:  # fmt: skip
    """One line per series over the labels, the y axis from zero to a round top."""
    names = list(series.values)
    top = _top(series)
    parts, y = _frame(series, title, currency, top)
    count = max(2, len(series.labels))
    step = (WIDTH - _LEFT - _RIGHT) / (count - 1)

    def x(i: int) -> float:
        return _LEFT + step * i

    for n, name in enumerate(names):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series.values[name]))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[n % len(COLOURS)]}" '
                     f'stroke-width="2" data-series="{escape(name)}"/>')  # fmt: skip
    parts += _x_labels(series.labels, x) + _legend(names, translate) + ["</svg>"]
    return Markup("".join(parts))  # noqa: S704
