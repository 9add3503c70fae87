"""Charts as server-rendered SVG (no JavaScript, no library): horizontal bars, each labelled and
with its number written at its end. A value hidden by statistical secrecy is drawn as a dashed
outline marked « masqué ». The numbers are also in the table that follows each chart."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_HEIGHT = 18
BAR_HEIGHT = 16
ROW = LABEL_HEIGHT + BAR_HEIGHT + 12
BAR_SPACE = 470  # the longest bar; the rest of the width holds its number
MAX_LABEL = 70


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: hidden by statistical secrecy
    text: str  # the number as written at the bar's end


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bars(chart_id: str, title: str, items: list[Bar], maximum: float | None = None) -> Markup:
    """One bar per item, scaled to ``maximum`` (default: the largest value)."""
    known = [b.value for b in items if b.value is not None]
    top = maximum if maximum is not None else max(known, default=0.0)
    height = max(len(items), 1) * ROW + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-titre" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-titre">{escape(title)}</title>',
    ]
    for index, bar in enumerate(items):
        y = index * ROW + 2
        bar_y = y + LABEL_HEIGHT + 2
        parts.append(
            f'<text x="0" y="{y + 14}" class="chart-label">{escape(_short(bar.label))}</text>'
        )
        if bar.value is None:
            parts.append(
                f'<rect x="1" y="{bar_y}" width="60" height="{BAR_HEIGHT}" class="chart-hidden"/>'
                f'<text x="70" y="{bar_y + 13}" class="chart-value">masqué</text>'
            )
            continue
        length = 0.0 if top <= 0 else BAR_SPACE * bar.value / top
        parts.append(
            f'<rect x="0" y="{bar_y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'class="chart-bar"/>'
            f'<text x="{length + 6:.1f}" y="{bar_y + 13}" class="chart-value">'
            f"{escape(bar.text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped
