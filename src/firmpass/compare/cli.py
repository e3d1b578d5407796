"""`firmpass compare OUT_A OUT_B [--json] [-o FILE]`: what changed between two scans of a product."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        a: Path = typer.Argument(..., help="Output directory of the earlier scan."),
        b: Path = typer.Argument(..., help="Output directory of the later scan."),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
        out: Optional[Path] = typer.Option(None, "-o", "--out", help="Also write the comparison as JSON to FILE."),
        lang: str = typer.Option("both", "--lang", help="Text output language: en, zh or both."),
    ) -> None:
        """Components added/removed/upgraded, vulnerabilities and findings fixed/introduced, verdicts changed."""
        import json

        from firmpass.compare import compare_dirs, summary_lines
        from firmpass.console import out_console
        from firmpass.errors import FirmpassError

        if lang not in ("en", "zh", "both"):
            raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh, both")
        d = compare_dirs(a, b)
        body = json.dumps(d, indent=1, ensure_ascii=False, default=str)
        if out is not None:
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(body, encoding="utf-8")
            tmp.replace(out)
        if as_json:
            import sys

            sys.stdout.write(body + "\n")
            return
        lines = summary_lines(d)
        for half in (["en", "zh"] if lang == "both" else [lang]):
            for t in lines:
                out_console.print(getattr(t, half), markup=False, highlight=False, soft_wrap=True)
            if lang == "both" and half == "en":
                out_console.print("")
