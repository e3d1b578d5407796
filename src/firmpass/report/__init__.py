"""Report stage: OUT/report.html and OUT/report.pdf, English and Chinese side by side, and the long
tables as OUT/components.csv and OUT/vulnerabilities.csv.

Jinja2 renders one template (autoescape on: everything from an image is hostile text); WeasyPrint
turns the same HTML into an A4 PDF with the WenQuanYi Micro Hei CJK font (several times faster to
lay out than Noto CJK).  The PDF keeps what a reader needs (decision, summary, verdicts, findings,
top vulnerabilities) and points to report.html and the CSVs for the long tables; the HTML shows everything.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from firmpass.context import ScanContext
from firmpass.model import ScanResult, Text
from firmpass.report.pdfjob import _local_only, html_to_pdf  # noqa: F401 - the PDF child's own module
from firmpass.report.charts import SEVERITY_COLOURS, bar_chart, entropy_chart, score_colour
from firmpass.present.i18n import as_text, catalogue, t
from firmpass.present.load import inputs  # noqa: F401 - `firmpass.report.inputs` as before
from firmpass.report.view import SEVERITIES, VERDICTS, Caps, build_view

LANGS = ("en", "zh", "both")


@lru_cache(maxsize=1)
def _env() -> "Environment":  # noqa: F821
    """One environment per process: the template is compiled once, not for the HTML and again for the PDF."""
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


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def start_report(out: Path, result: ScanResult, assessment: dict | None, profile: dict | None,
                 lang: str = "both", pdf: bool = True) -> tuple[dict[str, Path], "PdfJob | None"]:  # noqa: F821
    """Write report.html (everything) now and start report.pdf (long tables capped) in a child
    process (firmpass.report.pdfjob): the caller goes on and calls `job.join()` before it needs the
    PDF.  Without pdf, a report.pdf from an earlier run is removed and the job is None."""
    from firmpass.report.pdfjob import PdfJob

    written: dict[str, Path] = {}
    html_path = out / "report.html"
    _write(html_path, render_html(result, assessment, profile, lang, Caps()))
    written["html"] = html_path
    from firmpass.report.tables import write_tables

    tables = write_tables(out, result)  # the long tables the PDF leaves to report.html, for a spreadsheet
    job = None
    if pdf:
        job = PdfJob(out, render_html(result, assessment, profile, lang, Caps.for_pdf()))
    elif (out / "report.pdf").is_file() and not (out / "report.pdf").is_symlink():
        (out / "report.pdf").unlink()  # a PDF from an earlier run would no longer match the HTML
    written.update(tables)
    return written, job


def write_report(out: Path, result: ScanResult, assessment: dict | None, profile: dict | None,
                 lang: str = "both", pdf: bool = True) -> dict[str, Path]:
    """report.html (everything) and, unless pdf is False, report.pdf (long tables capped), both
    written when this returns (a PDF that cannot be made raises PdfJobError)."""
    written, job = start_report(out, result, assessment, profile, lang, pdf)
    if job is not None:
        job.join()
        written["pdf"] = job.target
    return written


def run(ctx: ScanContext) -> None:
    """report.html now; report.pdf in a child process that `finish_pdf` joins (the evidence stage
    does, before it hashes the reports, and the pipeline does at its end)."""
    lang = getattr(ctx.options, "lang", "both") or "both"
    pdf = bool(getattr(ctx.options, "pdf", True))
    assessment, profile = inputs(ctx)
    written, job = start_report(ctx.out, ctx.result, assessment, profile, lang, pdf)
    info = ctx.result.tool.stages.setdefault("report", {})
    info["files"] = sorted(p.name for k, p in written.items() if k in ("html", "pdf"))
    info["tables"] = sorted(p.name for k, p in written.items() if k.endswith("_csv"))
    if job is not None:
        ctx.scratch["pdf_job"] = job
        ctx.scratch["join_reports"] = lambda: finish_pdf(ctx)  # the evidence stage calls it
        ctx.scratch.setdefault("at_end", []).append(finish_pdf)


def finish_pdf(ctx: ScanContext, ok: bool = True) -> None:
    """Join the report stage's PDF child (once; later calls do nothing).  Its seconds go to
    tool.stages.report (pdf_seconds, pdf_cpu, pdf_pages); a PDF that could not be made is a
    warning, never a lost scan.  ok=False (the scan is being abandoned): the child is stopped."""
    from firmpass.i18n import msg
    from firmpass.report.pdfjob import PdfJobError

    job = ctx.scratch.pop("pdf_job", None)
    ctx.scratch.pop("join_reports", None)
    if job is None:
        return
    info = ctx.result.tool.stages.setdefault("report", {})
    if not ok:
        job.kill()
        return
    t0 = time.perf_counter()
    try:
        got = job.join()
    except PdfJobError as e:
        info["pdf_wait"] = round(time.perf_counter() - t0, 3)
        info["pdf_error"] = e.detail
        ctx.warn("report", "pdf_failed", msg("warn.pdf_failed", detail=e.detail))
        return
    info["files"] = sorted(set(info.get("files") or []) | {"report.pdf"})
    info["pdf_seconds"] = got.get("wall")
    info["pdf_cpu"] = got.get("cpu")
    info["pdf_pages"] = got.get("pages")
    info["pdf_wait"] = round(time.perf_counter() - t0, 3)  # what the scan waited for it (the rest overlapped)


__all__ = ["run", "finish_pdf", "render_html", "start_report", "write_report", "html_to_pdf", "Text"]
