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
        market: Optional[str] = typer.Option(None, "--market", help="Markets, e.g. eu,uk (default: the profile's, else all)."),
        etsi: Optional[str] = typer.Option(None, "--etsi-version", help="EN 303 645 version: V3.1.3 (default) or V2.1.1."),
        pdf: Optional[bool] = typer.Option(None, "--pdf/--no-pdf", help="Re-render report.pdf (default: what the scan in OUT chose)."),
    ) -> None:
        """Re-assess a saved scan with a (changed) profile, without rescanning; writes OUT/assessment.json."""
        from firmpass.console import err_console, out_console
        from firmpass.context import ScanOptions
        from firmpass.errors import FirmpassError, UnusableInput
        from firmpass.frameworks import ETSI_VERSIONS
        from firmpass.i18n import both, msg
        from firmpass.frameworks.registry import parse_markets
        from firmpass.pipeline import load_context, pdf_wanted, run_stages

        if profile is not None:
            from firmpass.profile import load_profile

            load_profile(profile)  # missing, a directory or invalid: one line, exit 2
        if etsi is not None and etsi not in ETSI_VERSIONS:
            raise FirmpassError("err.bad_choice", option="--etsi-version", value=repr(etsi),
                                choices=", ".join(reversed(ETSI_VERSIONS)))
        if not (out / "findings.json").is_file():
            raise UnusableInput("err.bad_scan_dir", path=str(out))
        markets = parse_markets(market) if market else None
        want_pdf = pdf_wanted(out, pdf, default=False)  # read before anything in OUT is rewritten
        notes: list = []
        opts = ScanOptions(markets=markets, profile_path=profile, en303645_version=etsi, pdf=want_pdf)
        ctx = load_context(out, opts, notes=notes)
        for note in notes:
            err_console.print(both(note), markup=False)
        run_stages(ctx, ["assess"], fatal={"assess"})
        data = ctx.assessment
        summary = ", ".join(f"{m} {s['score']:.0%}" if s["score"] is not None else f"{m} -"
                            for m, s in data["summary"].items())
        out_console.print(both(msg("assess.cli.done", path=str(out / "assessment.json"), summary=summary)), markup=False)
        # the report and the evidence package follow the new assessment; a failure there is one
        # warning line (kept in findings.json too) and the new assessment.json stays
        run_stages(ctx, ["report", "evidence"])
        info = ctx.result.tool.stages.get("report", {})
        if info.get("status") == "failed":
            err_console.print(f"warning: {both(msg('warn.stage_failed', stage='report', detail=info.get('error', '')))}",
                              markup=False)
        elif info.get("status") == "ok":
            out_console.print(both(msg("assess.cli.report", out=str(out))), markup=False)
