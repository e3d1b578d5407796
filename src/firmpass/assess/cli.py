"""`firmpass assess OUT --profile P [--market ...]`: re-run the assessment on a saved scan."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess_cmd(
        out: Path = typer.Argument(..., help="Output directory of an earlier scan (holds findings.json)."),
        profile: Optional[Path] = typer.Option(None, "--profile", help="Product profile (YAML)."),
        market: Optional[str] = typer.Option(None, "--market", help="Markets eu,uk,us,cn (default: the profile's, else all)."),
        etsi: Optional[str] = typer.Option(None, "--etsi-version", help="EN 303 645 version: V3.1.3 (default) or V2.1.1."),
        pdf: Optional[bool] = typer.Option(None, "--pdf/--no-pdf", help="Re-render report.pdf (default: what the scan in OUT chose)."),
    ) -> None:
        """Re-assess a saved scan with a (changed) profile, without rescanning; writes OUT/assessment.json."""
        from firmpass.assess import assess_dir
        from firmpass.cli import parse_markets, pdf_wanted
        from firmpass.console import err_console, out_console
        from firmpass.errors import FirmpassError, UnusableInput
        from firmpass.i18n import both, msg

        if profile is not None:
            from firmpass.profile import load_profile

            load_profile(profile)  # missing, a directory or invalid: one line, exit 2
        if etsi is not None and etsi not in ("V2.1.1", "V3.1.3"):
            raise FirmpassError("err.bad_choice", option="--etsi-version", value=repr(etsi), choices="V3.1.3, V2.1.1")
        if not (out / "findings.json").is_file():
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        markets = parse_markets(market) if market else None
        want_pdf = pdf_wanted(out, pdf, default=False)  # read before anything in OUT is rewritten
        notes: list = []
        data = assess_dir(out, profile, markets, etsi, notes=notes)
        for note in notes:
            err_console.print(both(note), markup=False)
        if profile is None and (data.get("profile") or {}).get("path"):
            profile = Path(data["profile"]["path"])
        summary = ", ".join(f"{m} {s['score']:.0%}" if s["score"] is not None else f"{m} -"
                            for m, s in data["summary"].items())
        out_console.print(both(msg("assess.cli.done", path=str(out / "assessment.json"), summary=summary)), markup=False)
        _rerender_report(out, data, profile, markets, pdf=want_pdf)


def _rerender_report(out: Path, data: dict, profile: Optional[Path], markets: Optional[list[str]],
                     pdf: bool = False) -> None:
    """Re-render the report when the report stage is installed: `firmpass.report.rerender(out, assessment)`
    if it exists, else the stage's own `run(ctx)` on a context rebuilt from the saved scan.  A report
    failure is one warning line; the new assessment.json is kept either way."""
    try:
        from firmpass import report  # type: ignore
    except ImportError:
        return
    from firmpass.console import err_console, out_console
    from firmpass.context import ScanContext, ScanOptions
    from firmpass.i18n import both, msg
    from firmpass.model import ScanResult
    from firmpass.profile import load_profile

    try:
        fn = getattr(report, "rerender", None)
        if callable(fn):
            fn(out, data, pdf=pdf)
        elif callable(getattr(report, "run", None)):
            result = ScanResult.model_validate_json((out / "findings.json").read_bytes())
            opts = ScanOptions(markets=data["markets"], profile_path=profile, pdf=pdf)
            ctx = ScanContext(image=Path(result.image.path), out=out.resolve(), result=result, options=opts)
            ctx.profile = load_profile(profile) if profile else None
            ctx.assessment = data
            report.run(ctx)
        else:
            return
    except Exception as e:  # noqa: BLE001 - the assessment is written; the report is a bonus here
        err_console.print(f"warning: {both(msg('warn.stage_failed', stage='report', detail=f'{type(e).__name__}: {e}'))}",
                          markup=False)
        return
    out_console.print(both(msg("assess.cli.report", out=str(out))), markup=False)
