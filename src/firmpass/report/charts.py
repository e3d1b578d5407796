"""Inline SVG charts (horizontal bars), written by hand: a few rectangles and labels are all the
report needs, and a charting library would add a large dependency and a raster step WeasyPrint
does not need.  Labels are escaped; numbers are formatted here."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

from firmpass.model import Text

SEVERITY_COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#3b82f6", "info": "#9ca3af"}


def label_for(text: Text, lang: str) -> str:
    if lang == "en":
        return text.en
    if lang == "zh":
        return text.zh
    return text.en if text.en == text.zh else f"{text.en} / {text.zh}"


def bar_chart(rows: list[tuple[Text, float, str, str]], max_value: float, lang: str, width: int = 640,
              label_width: int = 230) -> Markup:
    """rows: (label, value, shown value, colour).  Values are scaled to max_value."""
    bar_h, gap, top = 16, 8, 4
    height = top + len(rows) * (bar_h + gap) + 4
    plot_w = width - label_width - 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    out.append('<style>text{font-family:"WenQuanYi Micro Hei","DejaVu Sans",sans-serif;font-size:11px;fill:#111}</style>')
    for i, (label, value, shown, colour) in enumerate(rows):
        y = top + i * (bar_h + gap)
        frac = 0.0 if max_value <= 0 else max(0.0, min(1.0, value / max_value))
        w = round(plot_w * frac, 1)
        out.append(f'<text x="{label_width - 6}" y="{y + bar_h - 4}" text-anchor="end">{escape(label_for(label, lang))}</text>')
        out.append(f'<rect x="{label_width}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#eef0f3"/>')
        if w > 0:
            out.append(f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_h}" fill="{escape(colour)}"/>')
        out.append(f'<text x="{label_width + plot_w + 6}" y="{y + bar_h - 4}">{escape(shown)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def score_colour(score: float) -> str:
    if score >= 0.8:
        return "#16a34a"
    if score >= 0.5:
        return "#f59e0b"
    return "#dc2626"
