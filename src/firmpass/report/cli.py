"""`firmpass report OUT`: re-render report.html, report.pdf and the evidence package from a saved
scan directory (findings.json + assessment.json), e.g. in another language or after editing the
profile."""
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

        from firmpass.evidence import write_evidence
        from firmpass.report import _join_quietly, start_report
        from firmpass.report.pdfjob import PdfJobError
        from firmpass.present.load import load_assessment, load_profile_file, load_result

        if lang not in ("en", "zh", "both"):
            raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh, both")
        if not out.is_dir():
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        result = load_result(out)
        assessment = load_assessment(out)
        if profile is not None:
            require_file(profile)
        prof_path = profile
        if prof_path is None and assessment:  # the profile the scan was assessed with, as `assess` does
            from firmpass.assess import recorded_profile

            notes: list = []
            prof_path = recorded_profile(out, notes)
            for note in notes:
                err_console.print(both(note), markup=False)
        prof = load_profile_file(prof_path) if prof_path is not None else None
        err = err_console
        if assessment is None:
            err.print("warning: " + both(msg("report.no_assessment", path=str(out / "assessment.json"))), markup=False, soft_wrap=True)
        from firmpass.cli import pdf_wanted

        written, job = start_report(out, result, assessment, prof, lang, pdf=pdf_wanted(out, pdf, default=True))
        try:  # the PDF is laid out in a child process while the evidence package is written
            summary = write_evidence(out, result, assessment, prof,
                                     before_reports=(lambda: _join_quietly(job)) if job else None)
        finally:
            if job is not None:
                job.kill()  # only if the evidence failed first
        if job is not None:
            try:
                job.join()
                written["pdf"] = job.target
            except PdfJobError as e:
                err.print("warning: " + both(msg("warn.pdf_failed", detail=e.detail)), markup=False, soft_wrap=True)
        for n in summary["notes"]:
            err.print(f"note: {n['en']} / {n['zh']}", markup=False, soft_wrap=True)
        files = [p.name for p in written.values()] + ["evidence/", "evidence.zip"]
        out_console.print(both(msg("report.done", files=", ".join(files), out=str(out))), markup=False, soft_wrap=True)
