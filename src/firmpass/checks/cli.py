"""`firmpass checks list [--lang en|zh|both]`: print the check catalogue."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    checks_app = typer.Typer(help="Firmware security checks. 固件安全检查项。", no_args_is_help=True,
                             add_completion=False, rich_markup_mode=None)

    @checks_app.command("list")
    def list_checks(
        lang: str = typer.Option("en", "--lang", help="Language: en, zh or both."),
        provisions: bool = typer.Option(True, "--provisions/--no-provisions", help="Show the provisions served."),
    ) -> None:
        """List every check: id, severity, title and the provisions it serves."""
        from firmpass.checks.registry import all_checks
        from firmpass.errors import FirmpassError

        if lang not in ("en", "zh", "both"):
            raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh, both")
        langs = ["en", "zh"] if lang == "both" else [lang]
        fam = None
        for c in all_checks():
            if c.family != fam:
                fam = c.family
                typer.echo(f"\n[{fam}]")
            title = " / ".join(getattr(c.title, l) for l in langs)
            typer.echo(f"{c.id:<9} v{c.version} {c.severity:<8} {title}")
            if provisions:
                typer.echo(f"{'':<12}{' '.join(c.provisions)}")

    app.add_typer(checks_app, name="checks")
