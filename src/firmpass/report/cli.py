"""`firmpass report OUT`: re-render report.html, report.pdf and the evidence package from a saved
scan directory (findings.json + assessment.json), e.g. in another language or after editing the
profile.  The saved scan is resumed the one way there is: pipeline.load_context + run_stages."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from firmpass.console import err_console, out_console
from firmpass.errors import FirmpassError, UnusableInput, require_file
from firmpass.i18n import both, msg


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        out: Path = typer.Argument(..., help="Scan output directory (holds findings.json)."),
        lang: str = typer.Option("both", "--lang", help="Report language: en, zh or both."),
        pdf: Optional[bool] = typer.Option(None, "--pdf/--no-pdf", help="Render report.pdf (default: what the scan in OUT chose; a PDF when OUT has no report yet)."),
        profile: Optional[Path] = typer.Option(None, "--profile", help="Product profile (YAML); default: the one the scan used."),
    ) -> None:
        """Re-render the report and the evidence package from a saved scan directory."""
        from firmpass.context import ScanOptions
        from firmpass.pipeline import load_context, pdf_wanted, run_stages

        if lang not in ("en", "zh", "both"):
            raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh, both")
        if not out.is_dir():
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        if profile is not None:
            require_file(profile)
        notes: list = []
        opts = ScanOptions(lang=lang, pdf=pdf_wanted(out, pdf, default=True), profile_path=profile)
        ctx = load_context(out, opts, notes=notes)
        for note in notes:
            err_console.print(both(note), markup=False)
        if ctx.assessment is None:
            err_console.print("warning: " + both(msg("report.no_assessment", path=str(out / "assessment.json"))),
                              markup=False, soft_wrap=True)
        run_stages(ctx, ["report", "evidence"], fatal={"report", "evidence"})
        for w in ctx.result.warnings:
            if w.stage == "report":  # the PDF child failed: report.html and the evidence are written
                err_console.print(f"warning: {both(w.message)}", markup=False, soft_wrap=True)
            if w.stage == "evidence":
                err_console.print(f"note: {w.message.en} / {w.message.zh}", markup=False, soft_wrap=True)
        files = ctx.result.tool.stages["report"].get("files", []) + ["evidence/", "evidence.zip"]
        out_console.print(both(msg("report.done", files=", ".join(files), out=str(out))), markup=False, soft_wrap=True)
