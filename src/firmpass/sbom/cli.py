"""`firmpass sbom IMAGE -o FILE [--format cyclonedx|spdx]` and `firmpass sbom check FILE [--json]`.

Click cannot give one group both a positional IMAGE and a subcommand `check`.  `sbom` is therefore a
group whose first argument, when it is not a subcommand name, is taken as the image: `firmpass sbom
fw.bin -o sbom.json` runs the hidden `build` command.  An image file literally named `check` is
scanned with `firmpass sbom build check -o ...`.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from firmpass.errors import FirmpassError
from firmpass.i18n import both, msg
from firmpass.model import Text

from firmpass.console import err_console, out_console


class SbomGroup(TyperGroup):
    """A group whose unknown first argument is the image of the default `build` command."""

    def parse_args(self, ctx, args):  # noqa: ANN001 - click signature
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


sbom_app = typer.Typer(cls=SbomGroup, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                       help="SBOM of a firmware image (CycloneDX 1.6 / SPDX 2.3), and SBOM field checks. "
                            "固件 SBOM 生成（CycloneDX 1.6 / SPDX 2.3）与字段检查。 "
                            "Usage: firmpass sbom IMAGE -o FILE | firmpass sbom check FILE")


@sbom_app.command("build", hidden=True)
def build(
    image: Path = typer.Argument(..., help="Firmware image."),
    out: Path = typer.Option(..., "-o", "--out", help="SBOM file to write."),
    fmt: str = typer.Option("cyclonedx", "--format", help="cyclonedx or spdx."),
) -> None:
    """Write the SBOM of IMAGE to FILE (unpack, inventory, identify, sbom in a temporary directory)."""
    from firmpass.context import ScanOptions
    from firmpass.pipeline import scan

    fmt = fmt.lower()
    names = {"cyclonedx": "sbom.cdx.json", "cdx": "sbom.cdx.json", "spdx": "sbom.spdx.json"}
    if fmt not in names:
        raise FirmpassError("sbom.bad_format", value=fmt)
    if out.exists() and out.is_dir():
        raise FirmpassError("err.out_dir", path=str(out), detail=Text(en="-o names a file, not a directory", zh="-o 指向的是文件而不是目录"))
    with tempfile.TemporaryDirectory(prefix="firmpass-sbom-") as tmp:
        with err_console.status(both(msg("stage.unpack"))) as status:
            ctx = scan(image, Path(tmp), ScanOptions(progress=False),
                       on_stage=lambda s: status.update(both(msg(f"stage.{s}"))),
                       stages=["unpack", "inventory", "identify", "sbom"])
        for w in ctx.result.warnings:
            err_console.print(f"warning: {both(w.message)}", markup=False)
        src = Path(tmp) / names[fmt]
        if not src.is_file():
            detail = ctx.result.tool.stages.get("sbom", {}).get("error", "no SBOM written")
            raise FirmpassError("err.internal", stage="sbom", detail=detail, out=str(out))
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
        except OSError as e:
            raise FirmpassError("err.out_dir", path=str(out.parent), detail=e.strerror or str(e)) from None
    out_console.print(both(msg("sbom.written", path=str(out), format="CycloneDX 1.6" if fmt != "spdx" else "SPDX 2.3",
                               components=len(ctx.result.components))), markup=False)


@sbom_app.command("check")
def check(
    file: Path = typer.Argument(..., help="CycloneDX or SPDX JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Report the BSI TR-03183-2 and NTIA minimum-element fields missing from an SBOM."""
    from firmpass.sbom.check import check_sbom

    rep = check_sbom(file)
    if as_json:
        out_console.print_json(json.dumps(rep, ensure_ascii=False))
    else:
        print_report(rep, out_console)
    # a mandatory field (TR-03183-2 MUST, or MUST where it exists) missing: the SBOM fails the check
    if any(f["missing"] and f["status"] in ("required", "if-exists") for f in rep["fields"]):
        raise typer.Exit(1)


def print_report(rep: dict, console: Console) -> None:
    title = msg("sbom.check.title", file=rep["file"], format=rep["format"], components=rep["components"])
    t = Table(title=f"{title.en}\n{title.zh}", show_lines=False)
    t.add_column("ID", no_wrap=True)
    for key in ("col_field", "col_status", "col_state", "col_missing", "col_unknown", "col_examples"):
        m = msg(f"sbom.check.{key}")
        t.add_column(f"{m.en}\n{m.zh}")
    for f in rep["fields"]:
        st = msg(f"sbom.state.{f['state']}")
        status = msg(f"sbom.status.{f['status']}")
        style = "bold red" if f["state"] == "missing" else ("yellow" if f["state"] == "unknown" else None)
        t.add_row(f["id"], f"{f['title']['en']}\n{f['title']['zh']}", f"{status.en}\n{status.zh}",
                  f"{st.en}\n{st.zh}", str(f["missing"]), str(f["unknown"]), ", ".join(f["examples"]), style=style)
    console.print(t)
    if rep["missing"]:
        console.print(both(msg("sbom.check.some_missing", fields=", ".join(rep["missing"]))), markup=False)
    else:
        console.print(both(msg("sbom.check.none_missing")), markup=False)
    for n in rep["notes"]:
        console.print(f"note: {n['text']['en']} / {n['text']['zh']}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sbom_app, name="sbom")


__all__ = ["register", "sbom_app", "Optional"]
