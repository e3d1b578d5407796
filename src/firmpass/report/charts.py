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
    out.append('<style>text{font-family:"FP Sans","WenQuanYi Micro Hei","DejaVu Sans",sans-serif;font-size:11px;fill:#111}</style>')
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


def entropy_chart(values: list[float], region_size: int, total: int, lang: str, axis: Text, width: int = 640,
                  height: int = 170) -> Markup:
    """Entropy per region of an image that could not be opened: an area over the offset, 0-8 bits/byte,
    with a dashed line at 7.5 (above it: compressed or encrypted data).  `axis`: the y-axis caption."""
    left, right, top, bottom = 40, 10, 8, 34
    pw, ph = width - left - right, height - top - bottom
    n = max(len(values), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart entropy" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    out.append('<style>text{font-family:"FP Sans","WenQuanYi Micro Hei","DejaVu Sans",sans-serif;font-size:10px;fill:#111}</style>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#eef0f3"/>')
    pts = [f"{left},{top + ph}"]
    for i, v in enumerate(values):
        y = top + ph - ph * max(0.0, min(8.0, float(v))) / 8
        x0, x1 = left + pw * i / n, left + pw * (i + 1) / n
        pts += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
    pts.append(f"{left + pw},{top + ph}")
    out.append(f'<polygon points="{" ".join(pts)}" fill="#2563eb" fill-opacity="0.75" stroke="#1e40af" stroke-width="0.6"/>')
    y75 = top + ph - ph * 7.5 / 8
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y75:.1f}" y2="{y75:.1f}" stroke="#dc2626" stroke-dasharray="4 3"/>')
    for b in (0, 4, 8):
        y = top + ph - ph * b / 8
        out.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{b}</text>')
    for frac in (0, 0.5, 1):
        x = left + pw * frac
        off = int(total * frac)
        anchor = "start" if frac == 0 else ("end" if frac == 1 else "middle")
        out.append(f'<text x="{x:.1f}" y="{top + ph + 12}" text-anchor="{anchor}">{off:#x}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">'
               f'{escape(label_for(axis, lang))} ({region_size:#x})</text>')
    out.append("</svg>")
    return Markup("".join(out))
