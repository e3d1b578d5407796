"""Report stage: OUT/report.html and OUT/report.pdf, English and Chinese side by side.

Jinja2 renders one template (autoescape on: everything from an image is hostile text); WeasyPrint
turns the same HTML into an A4 PDF with the WenQuanYi Micro Hei CJK font (several times faster to
lay out than Noto CJK).  The PDF caps long tables and points to findings.json for the rest; the
HTML shows everything.
"""
from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

from firmpass.context import ScanContext
from firmpass.model import ScanResult, Text
from firmpass.report.charts import SEVERITY_COLOURS, bar_chart, entropy_chart, score_colour
from firmpass.present.i18n import as_text, catalogue, t
from firmpass.present.load import inputs  # noqa: F401 - `firmpass.report.inputs` as before
from firmpass.report.view import SEVERITIES, VERDICTS, Caps, build_view

LANGS = ("en", "zh", "both")


def _env() -> "Environment":  # noqa: F821
    from jinja2 import Environment, PackageLoader, StrictUndefined  # loaded when a report is rendered, not at start-up

    env = Environment(loader=PackageLoader("firmpass.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(t=t, tx=as_text)
    return env


def _charts(view: dict[str, Any], lang: str) -> dict[str, Any]:
    charts: dict[str, Any] = {}
    if view["markets"]:
        rows = [(m["label"], m["score"], f"{round(m['score'] * 100)}%" if m["scored"] else "–", score_colour(m["score"]))
                for m in view["markets"]]
        charts["readiness"] = bar_chart(rows, 1.0, lang)
    else:
        charts["readiness"] = ""
    counts = view["severity_counts"]
    rows = [(t(f"severity.{s}"), counts.get(s, 0), str(counts.get(s, 0)), SEVERITY_COLOURS[s]) for s in SEVERITIES]
    charts["severity"] = bar_chart(rows, max([1] + list(counts.values())), lang)
    if view["hardening"]:
        rows = [(t(f"hardening.{h['key']}"), h["ratio"], f"{h['n']}/{h['total']}", "#2563eb") for h in view["hardening"]]
        charts["hardening"] = bar_chart(rows, 1.0, lang)
    else:
        charts["hardening"] = ""
    un = view["identity"].get("unopened")
    charts["entropy"] = (entropy_chart(un["values"], un["region_size"], view["identity"]["size_bytes"], lang,
                                       t("chart.entropy_axis")) if un and un["values"] else "")
    return charts


def render_html(result: ScanResult, assessment: dict | None, profile: dict | None, lang: str = "both",
                caps: Caps | None = None) -> str:
    if lang not in LANGS:
        lang = "both"
    view = build_view(result, assessment, profile, caps or Caps())
    css = resources.files(__package__).joinpath("templates/report.css").read_text(encoding="utf-8")
    tpl = _env().get_template("report.html.j2")
    return tpl.render(v=view, lang=lang, css=css, charts=_charts(view, lang), keys=set(catalogue()),
                      verdicts=VERDICTS)


def html_to_pdf(html: str, target: Path) -> None:
    from weasyprint import HTML  # imported late: it is slow to import and --no-pdf needs none of it

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    # base_url=None and no url_fetcher for remote schemes: a hostile string can never make the
    # renderer fetch anything (the report contains no references besides the local font).
    HTML(string=html, base_url=None, url_fetcher=_local_only).write_pdf(target)


def _local_only(url: str, timeout: int = 10, ssl_context=None):
    from weasyprint import default_url_fetcher

    if not url.startswith("file:///usr/share/fonts/"):
        raise ValueError(f"report: refusing to fetch {url[:80]}")
    return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(out: Path, result: ScanResult, assessment: dict | None, profile: dict | None,
                 lang: str = "both", pdf: bool = True) -> dict[str, Path]:
    """report.html (everything) and, unless pdf is False, report.pdf (long tables capped)."""
    written: dict[str, Path] = {}
    html_path = out / "report.html"
    _write(html_path, render_html(result, assessment, profile, lang, Caps()))
    written["html"] = html_path
    if pdf:
        pdf_path = out / "report.pdf"
        tmp = out / "report.pdf.tmp"
        html_to_pdf(render_html(result, assessment, profile, lang, Caps.for_pdf()), tmp)
        os.replace(tmp, pdf_path)
        written["pdf"] = pdf_path
    elif (out / "report.pdf").is_file() and not (out / "report.pdf").is_symlink():
        (out / "report.pdf").unlink()  # a PDF from an earlier run would no longer match the HTML
    return written


def run(ctx: ScanContext) -> None:
    lang = getattr(ctx.options, "lang", "both") or "both"
    pdf = bool(getattr(ctx.options, "pdf", True))
    assessment, profile = inputs(ctx)
    written = write_report(ctx.out, ctx.result, assessment, profile, lang, pdf)
    ctx.result.tool.stages.setdefault("report", {})["files"] = sorted(p.name for p in written.values())


__all__ = ["run", "render_html", "write_report", "html_to_pdf", "Text"]
