"""`firmpass db ...`: import, update and inspect the local vulnerability store."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from firmpass.errors import FirmpassError
from firmpass.i18n import both, msg

db_app = typer.Typer(help="Local vulnerability database. 本地漏洞数据库。", no_args_is_help=True,
                     rich_markup_mode=None)
from firmpass.console import err_console as err, out_console as out
OPT_DB = typer.Option(None, "--db", help="Store: an SQLite file or a database URL such as postgresql+psycopg://user@host/db "
                                        "(default: $FIRMPASS_DB or the user's data dir).")


def _open(db: Optional[str]):
    from firmpass.vulns.store import open_store

    return open_store(db)


@db_app.command("import")
def import_cmd(paths: list[Path] = typer.Argument(..., help="Data files or directories (.gz accepted)."),
               db: Optional[str] = OPT_DB) -> None:
    """Import NVD / CVE 5 / OSV / KEV / EPSS / EUVD / vendor / Debian tracker / VEX files (offline)."""
    from firmpass.vulns.importers import import_paths
    from firmpass.vulns.store import display_db

    for p in paths:
        if not p.exists():
            raise FirmpassError("err.no_such_file", path=str(p))
    store = _open(db)
    t0 = time.perf_counter()
    try:
        with err.status("import") as st:
            rep = import_paths(store, paths, progress=lambda f: st.update(f"import {f}"))
    finally:
        store.close()
    for path, reason in rep.skipped:
        err.print(both(msg("db.info.skipped", path=path, reason=reason)), markup=False)
    if not rep.by_format:
        raise FirmpassError("db.err.nothing_imported", paths=", ".join(map(str, paths)))
    detail = ", ".join(f"{k} {v}" for k, v in rep.by_format.items())
    out.print(both(msg("db.info.imported", files=rep.files, path=display_db(store.path or store.url), seconds=f"{time.perf_counter() - t0:.1f}",
                       detail=detail)), markup=False)


@db_app.command("update")
def update_cmd(db: Optional[str] = OPT_DB,
               only: Optional[str] = typer.Option(None, "--only", help="Feeds to update, e.g. nvd,kev (default: every feed "
                                                  "that can be downloaded, vulns/feeds/)."),
               url: list[str] = typer.Option([], "--url", help="Another address for one feed: NAME=URL (a mirror); repeatable."),
               ) -> None:
    """Download what changed since the last update (NVD and EUVD incremental, KEV, EPSS); resumable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from firmpass.vulns import feeds

    avail = feeds.updatable()
    choices = ", ".join(avail)
    which = [w.strip().lower() for w in (only or ",".join(avail)).split(",") if w.strip()]
    if any(w not in avail for w in which) or not which:
        raise FirmpassError("err.bad_choice", option="--only", value=repr(only), choices=choices)
    urls = {}
    for u in url:
        name, sep, addr = u.partition("=")
        if not sep or name.strip().lower() not in avail or not addr.strip():
            raise FirmpassError("err.bad_choice", option="--url", value=repr(u), choices=f"NAME=URL, NAME: {choices}")
        urls[name.strip().lower()] = addr.strip()
    store = _open(db)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err) as prog:
            for name, feed in avail.items():
                if name not in which:
                    continue
                task = prog.add_task(both(msg("db.update.progress", source=getattr(feed, "LABEL", name.upper()))), total=None)
                paged: list = []  # a paged feed reports (done, total); a whole file is one step

                def step(done, total, task=task, paged=paged):
                    paged.append(1)
                    prog.update(task, completed=done, total=total)

                n = feed.update(store, urls.get(name, feed.UPDATE_URL), progress=step)
                if not paged:
                    prog.update(task, completed=1, total=1)
                out.print(both(msg("db.info.updated", source=name, records=n)), markup=False)
    finally:
        store.close()


@db_app.command("status")
def status_cmd(db: Optional[str] = OPT_DB,
               max_age: int = typer.Option(7, "--max-age", help="Warn when a source is older than this many days.")) -> None:
    """Sources, record counts, last update per source; warns when data is old."""
    from firmpass.vulns.store import db_errors, display_db, open_store, resolve_db_path

    p = resolve_db_path(db)
    out.print(both(msg("db.status.header", path=display_db(p))), markup=False)
    store = open_store(p, existing=True)
    if store is None:
        err.print(both(msg("db.status.empty")), markup=False)
        return
    try:
        with db_errors(p):
            srcs, counts, empty = store.sources(), store.counts(), store.is_empty()
    finally:
        store.close()
    t = Table(show_edge=False)
    for key in ("db.status.source", "db.status.records", "db.status.last_update", "db.status.data_date"):
        m = msg(key)
        t.add_column(f"{m.en} / {m.zh}")
    now = datetime.now(timezone.utc)
    old = []
    for name, s in srcs.items():
        t.add_row(name, str(s["records"]), s["last_update"] or "-", str(s["data_date"] or "-"))
        # age from the data's own date (KEV dateReleased, NVD timestamp / lastModified, a mirror's commit
        # date); the import time only when the data names none: an old file imported today is still old
        since = data_date(s["data_date"]) or data_date(s["last_update"])
        if since is not None:
            days = (now - since).days
            if days > max_age:
                old.append((name, days, data_date(s["data_date"]) is not None))
    out.print(t)
    # each count named for what it counts (the KEV and exploitation tables list only exploited CVEs)
    out.print(both(msg("db.status.counts", **{k: v for k, v in counts.items()})), markup=False)
    if empty:
        err.print(both(msg("db.status.empty")), markup=False)
    for name, days, dated in old:
        key = "db.status.old_data" if dated else "db.status.old"
        err.print("warning: " + both(msg(key, source=name, days=days, limit=max_age)), markup=False)


def data_date(v) -> datetime | None:
    """A source's date as an aware datetime: ISO date or datetime (2026-07-16, 2008-09-09T12:33:00.000,
    ...Z), or KEV's catalogVersion form 2026.07.16; None when it is none of these."""
    if not v:
        return None
    txt = str(v).strip().replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", txt):
        txt = txt.replace(".", "-")
    try:
        d = datetime.fromisoformat(txt)
    except ValueError:
        try:
            d = datetime.fromisoformat(txt[:10])
        except ValueError:
            return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
