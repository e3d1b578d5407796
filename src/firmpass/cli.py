"""The `firmpass` command: a thin layer over the library (firmpass.pipeline and the stage packages).

Stage packages add their own commands by providing `firmpass.<stage>.cli.register(app)`; the
modules listed in COMMAND_MODULES are loaded here, so adding a command never edits this file's
logic.  Every error a user sees is one bilingual line on stderr and exit code 2; a traceback
never reaches the terminal.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer

try:  # recent Typer vendors its own copy of Click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click

from firmpass.context import Limits, ScanOptions, limits_from, parse_size  # noqa: F401 - the CLI's option parsers
from firmpass.errors import FirmpassError, require_file
from firmpass.i18n import both, exc_detail, msg
from firmpass.frameworks.registry import market_ids
from firmpass.model import Text

app = typer.Typer(
    name="firmpass",
    help="Firmware security evidence for export markets (EU, UK, US, CN). 固件出口合规安全证据工具。",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
from firmpass.console import err_console, out_console  # noqa: E402

COMMAND_MODULES = [
    "firmpass.sbom.cli",
    "firmpass.vulns.cli",
    "firmpass.checks.cli",
    "firmpass.profile.cli",
    "firmpass.assess.cli",
    "firmpass.report.cli",
    "firmpass.watch.cli",
    "firmpass.batch.cli",
    "firmpass.compare.cli",
    "firmpass.server.cli",
]


def _version(value: bool) -> None:
    if value:
        from firmpass import __version__

        out_console.print(f"firmpass {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """firmpass: firmware -> SBOM, vulnerabilities, findings, per-market verdicts, bilingual report."""


def parse_markets(text: str) -> list[str]:
    from firmpass.frameworks.registry import parse_markets as parse

    return parse(text)


# Options shared by unpack and scan
OPT_MAX_SIZE = typer.Option(None, "--max-size", help="Stop when the unpacked data exceeds this (e.g. 4G).")
OPT_MAX_FILE_SIZE = typer.Option(None, "--max-file-size", help="Largest single extracted file or stream (default 1G).")
OPT_MAX_RATIO = typer.Option(None, "--max-ratio", help="Largest expansion ratio of one compressed stream (default 250).")
OPT_MAX_DEPTH = typer.Option(None, "--max-depth", help="Deepest container nesting (default 12).")
OPT_MAX_FILES = typer.Option(None, "--max-files", help="Most files over the whole image (default 250000).")
OPT_TIMEOUT = typer.Option(None, "--timeout", help="Seconds allowed for the whole scan: unpacking stops there and the stages "
                                                  "that compute are skipped after it; what was computed is written (default 900).")
OPT_QUIET = typer.Option(False, "--quiet", "-q", help="No progress display (only warnings and the last line).")
OPT_JSON_PROGRESS = typer.Option(False, "--json-progress", help="Progress as JSON lines on stderr, for tools that drive firmpass.")


@app.command()
def unpack(
    image: Path = typer.Argument(..., help="Firmware image to open."),
    out: Path = typer.Option(..., "-o", "--out", help="Directory to unpack into (created)."),
    max_size: Optional[str] = OPT_MAX_SIZE,
    max_ratio: Optional[float] = OPT_MAX_RATIO,
    max_depth: Optional[int] = OPT_MAX_DEPTH,
    max_files: Optional[int] = OPT_MAX_FILES,
    timeout: Optional[float] = OPT_TIMEOUT,
    max_file_size: Optional[str] = OPT_MAX_FILE_SIZE,
    quiet: bool = OPT_QUIET,
    json_progress: bool = OPT_JSON_PROGRESS,
) -> None:
    """Unpack an image, nested to any depth, keeping the image's true file metadata."""
    from firmpass.pipeline import scan

    opts = ScanOptions(limits=limits_from(max_size, max_ratio, max_depth, max_files, timeout, max_file_size))
    ctx = _with_progress(lambda progress: scan(image, out, opts, stages=["unpack", "inventory"], progress=progress),
                         stages=["unpack", "inventory"], quiet=quiet, json_lines=json_progress)
    for w in ctx.result.warnings:
        err_console.print(f"warning: {both(w.message)}", markup=False)
    out_console.print(both(msg("info.unpack_done", containers=len(ctx.result.image.container_chain),
                               files=len(ctx.result.files), out=str(out))), markup=False)


@app.command()
def scan(
    image: Path = typer.Argument(..., help="Firmware image to scan."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (created)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Product profile (YAML)."),
    market: str = typer.Option(",".join(market_ids()), "--market", help=f"Target markets: {','.join(market_ids())}."),
    lang: str = typer.Option("both", "--lang", help="Report language: en, zh or both."),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Skip the PDF report."),
    db: Optional[str] = typer.Option(None, "--db", help="Vulnerability store: SQLite file or database URL."),
    vex: list[Path] = typer.Option([], "--vex", help="Triage to apply (CycloneDX VEX, OpenVEX, CSAF VEX)."),
    decisions: Optional[Path] = typer.Option(None, "--decisions",
                                             help="Decisions on findings (JSON: accepted risk / fixed in version), shown beside them."),
    max_size: Optional[str] = OPT_MAX_SIZE,
    max_ratio: Optional[float] = OPT_MAX_RATIO,
    max_depth: Optional[int] = OPT_MAX_DEPTH,
    max_files: Optional[int] = OPT_MAX_FILES,
    timeout: Optional[float] = OPT_TIMEOUT,
    max_file_size: Optional[str] = OPT_MAX_FILE_SIZE,
    quiet: bool = OPT_QUIET,
    json_progress: bool = OPT_JSON_PROGRESS,
) -> None:
    """Scan an image: unpack, inventory, SBOM, vulnerabilities, checks, assessment, report."""
    from firmpass.pipeline import scan as run_scan

    if lang not in ("en", "zh", "both"):
        raise FirmpassError("err.bad_choice", option="--lang", value=repr(lang), choices="en, zh, both")
    if profile is not None:
        from firmpass.profile import load_profile

        load_profile(profile)  # a bad profile stops here with one line, before any scanning
    for v in vex:
        require_file(v)
    if vex:
        from firmpass.vulns.vex import load_triage_files

        load_triage_files(list(vex))  # a bad VEX stops here with one line, before OUT is touched
    if decisions is not None:
        from firmpass.checks.decisions import load_decisions

        require_file(decisions)
        load_decisions(decisions)  # a bad file stops here with one line, before OUT is touched
    if db is not None:
        from firmpass.vulns.store import check_db_file

        check_db_file(db)  # a file that is not a store stops here, before any scanning
    opts = ScanOptions(markets=parse_markets(market), profile_path=profile, lang=lang, pdf=not no_pdf,
                       limits=limits_from(max_size, max_ratio, max_depth, max_files, timeout, max_file_size),
                       db_path=db, vex_files=list(vex), decisions_file=decisions)
    ctx = _with_progress(lambda progress: run_scan(image, out, opts, progress=progress), quiet=quiet,
                         json_lines=json_progress)
    for w in ctx.result.warnings:
        err_console.print(f"warning: {both(w.message)}", markup=False)
    r = ctx.result
    out_console.print(both(msg("info.scan_done", files=len(r.files), components=len(r.components),
                               vulns=len(r.vulnerabilities), findings=len(r.findings), out=str(out))), markup=False)


OPT_PDF = typer.Option(None, "--pdf/--no-pdf", help="Render report.pdf (default: what the scan in OUT chose).")


def _with_progress(job, stages: list[str] | None = None, quiet: bool = False, json_lines: bool = False):
    """Run a pipeline job with a progress reporter (firmpass.progress): a Rich display per stage on a
    terminal, JSON lines with --json-progress, nothing with --quiet or when stderr is not a terminal."""
    from firmpass.pipeline import STAGES
    from firmpass.progress import reporter

    rep = reporter(err_console, stages or STAGES, quiet=quiet, json_lines=json_lines)
    if rep is None:
        return job(None)
    with rep:
        return job(rep)


def _load_command_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                continue  # stage not built yet
            raise
        mod.register(app)


_load_command_modules()


def fail(text: str, code: int = 2) -> None:
    err_console.print(f"firmpass: {text}", markup=False, soft_wrap=True)
    sys.exit(code)


def _quiet_libraries() -> None:
    """Parsing libraries log what they meet in damaged images (dissect's 'Zero-length directory
    entry', ubi-reader's notes) at WARNING or CRITICAL; with no handler configured Python prints
    those raw, in English, between our bilingual lines.  firmpass reports damage itself (a warning
    per part), so library records are dropped unless FIRMPASS_DEBUG is set."""
    import logging
    import os

    if os.environ.get("FIRMPASS_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="debug: %(name)s: %(message)s")
    else:
        logging.getLogger().addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> None:
    _quiet_libraries()
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except FirmpassError as e:
        fail(both(e.text), e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        fail(both(msg("err.bad_option", detail=Text(en="aborted", zh="已中止"))), 130)
    except click.exceptions.ClickException as e:
        fail(both(msg("err.bad_option", detail=e.format_message().replace("\n", " "))), 2)
    except KeyboardInterrupt:
        fail(both(msg("err.bad_option", detail=Text(en="interrupted", zh="已中断"))), 130)
    except Exception as e:  # noqa: BLE001 - never a traceback on the terminal; the contract's codes are 0 and 2
        fail(both(msg("err.internal", stage="cli", detail=exc_detail(e), out="-")), 2)


if __name__ == "__main__":
    main()
