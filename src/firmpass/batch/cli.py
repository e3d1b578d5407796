"""`firmpass batch DIR|LIST -o OUT [--scheduler tcp://...] [--workers N]`: every image scanned as a
task on a Dask cluster, each into OUT/<name>/, resumable, with OUT/index.json and index.html."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from firmpass.context import ScanOptions


def batch_cmd(
    source: Path = typer.Argument(..., help="A directory of images, or a text file listing image paths."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory: one folder per image, the index."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="An existing Dask scheduler "
                                            "(tcp://HOST:PORT); default: a local cluster started here."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of the local cluster "
                                          "(default: one per core)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Product profile (YAML) for every image."),
    market: str = typer.Option("eu,uk,us,cn", "--market", help="Target markets: eu,uk,us,cn."),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Skip the PDF reports."),
    db: Optional[str] = typer.Option(None, "--db", help="Vulnerability store: SQLite file or database URL."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds allowed for each scan (default 900)."),
    force: bool = typer.Option(False, "--force", help="Scan again the images whose output is complete."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the last line."),
) -> None:
    """Scan many images on a Dask cluster (resumable); exit 1 when a scan failed."""
    from firmpass.batch import BatchError, run_batch, text
    from firmpass.console import out_console
    from firmpass.i18n import both

    if workers is not None and workers < 1:
        raise BatchError("batch.err.workers", n=workers)
    opts = _scan_options(source, profile, market, no_pdf, db, timeout)
    index = run_batch(source, out, opts, scheduler=scheduler, workers=workers, force=force,
                      on_event=None if quiet else _print_event)
    tot = index["totals"]
    out_console.print(both(text("batch.info.done", done=tot["done"], skipped=tot["skipped"], failed=tot["failed"],
                                seconds=index["seconds"], index=str(out / "index.html"))), markup=False)
    if any(r["status"] == "failed" for r in index["images"]):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `batch` to APP."""
    app.command("batch")(batch_cmd)


def _scan_options(source: Path, profile: Optional[Path], market: str, no_pdf: bool, db: Optional[str],
                  timeout: Optional[float]) -> ScanOptions:
    """The options of every scan of the batch, after checking the profile, the store and the list file
    here (one clear error before any cluster starts)."""
    from firmpass.context import ScanOptions, limits_from
    from firmpass.errors import require_file
    from firmpass.frameworks.registry import parse_markets

    if profile is not None:
        from firmpass.profile import load_profile

        load_profile(profile)
    if db is not None:
        from firmpass.vulns.store import check_db_file

        check_db_file(db)
    if source.is_file():
        require_file(source)
    return ScanOptions(markets=parse_markets(market), profile_path=profile.resolve() if profile else None,
                       pdf=not no_pdf, limits=limits_from(None, None, None, None, timeout),
                       db_path=db if db is None or "://" in db else str(Path(db).resolve()))


def _print_event(kind: str, d: dict[str, Any]) -> None:
    """One line on stderr for the plan and for each image done or failed."""
    from firmpass.batch import text
    from firmpass.console import err_console
    from firmpass.i18n import both

    if kind == "plan":
        err_console.print(both(text("batch.info.plan", total=d["total"], todo=d["todo"], skipped=d["skipped"],
                                    cluster=d["cluster"])), markup=False)
    elif d["status"] == "failed":
        err_console.print(both(text("batch.info.image_failed", n=d["n"], total=d["total"], name=d["name"],
                                    detail=(d.get("error") or {}).get("en", "-"))), markup=False)
    else:
        s = d.get("summary") or {}
        err_console.print(both(text("batch.info.image_done", n=d["n"], total=d["total"], name=d["name"],
                                    status=text(f"batch.status.{d['status']}"), seconds=d.get("seconds"),
                                    worker=d.get("worker"), components=s.get("components", 0),
                                    vulns=s.get("vulnerabilities", 0), findings=s.get("findings", 0))),
                          markup=False)
