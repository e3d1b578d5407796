"""`firmpass watch OUT [OUT ...] | --portfolio DIR [--db DB] [--fail-on exploited|critical|high]`."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

import typer


def watch_cmd(
    outs: Optional[list[Path]] = typer.Argument(None, help="Output directories of earlier scans."),
    portfolio: Optional[Path] = typer.Option(None, "--portfolio", help="Watch every saved scan under DIR "
                                             "(product / firmware version layout); writes DIR/portfolio.json and .html."),
    db: Optional[str] = typer.Option(None, "--db", help="Vulnerability store (default: $FIRMPASS_DB or the user's data dir)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Exit 1 when a watch finds a newly exploited "
                                          "vulnerability (exploited) or a new one of that severity (critical, high)."),
    no_drafts: bool = typer.Option(False, "--no-drafts", help="Do not write the Art. 14 drafts and CSAF advisories."),
    notify: Optional[Path] = typer.Option(None, "--notify", help="Settings file (YAML) of the e-mail and/or "
                                          "webhook to tell when a shipped version has a newly exploited "
                                          "vulnerability (firmpass.notify)."),
) -> None:
    """Match saved scans against the store as it is now: new, resolved and exploited vulnerabilities,
    CRA Art. 14 clocks and drafts.  Offline; run `firmpass db update` first for fresh data."""
    from firmpass.errors import FirmpassError
    from firmpass.watch import fails

    if fail_on is not None and fail_on not in ("exploited", "critical", "high"):
        raise FirmpassError("err.bad_choice", option="--fail-on", value=repr(fail_on), choices="exploited, critical, high")
    dirs = _scan_dirs(outs, portfolio)
    notify_cfg = None
    if notify is not None:
        from firmpass.notify import load_config

        notify_cfg = load_config(notify)  # a bad settings file stops here, before anything is watched
    scans, docs, now = _watch(dirs, db, drafts=not no_drafts)
    _print_docs(docs)
    if portfolio is not None:
        _write_portfolio(portfolio, scans, docs, now)
    if notify_cfg is not None:
        _send_alerts(notify_cfg, scans, docs, now)
    if any(fails(d, fail_on) for d in docs):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `watch` to APP."""
    app.command("watch")(watch_cmd)


def _scan_dirs(outs: Optional[list[Path]], portfolio: Optional[Path]) -> list[Path]:
    """The scan output directories to watch: OUTS and the saved scans under PORTFOLIO, each with a findings.json."""
    from firmpass.errors import FirmpassError, UnusableInput
    from firmpass.watch import portfolio as pf

    dirs = list(outs or [])
    if portfolio is not None:
        if not portfolio.is_dir():
            raise UnusableInput("err.no_such_file", path=str(portfolio))
        dirs += pf.find_scans(portfolio)
        if not dirs:
            raise UnusableInput("watch.err.no_scans", path=str(portfolio))
    if not dirs:
        raise FirmpassError("watch.err.nothing")
    return dirs


def _watch(dirs: list[Path], db: Optional[str], drafts: bool) -> tuple[list[Any], list[dict[str, Any]], dt.datetime]:
    """Load the scans in DIRS and watch them against the store DB now: (scans, watch documents, now)."""
    from firmpass.errors import FirmpassError, UnusableInput
    from firmpass.vulns.store import db_errors, open_store, resolve_db_path
    from firmpass.watch import load_scan, watch_loaded

    for d in dirs:
        if not (d / "findings.json").is_file():
            raise UnusableInput("err.bad_scan_dir", path=str(d))
    path = resolve_db_path(db)
    store = open_store(path, existing=True)
    if store is None:
        raise FirmpassError("vulns.warn.db_empty", path=str(path))
    now = dt.datetime.now(dt.timezone.utc)
    scans = [load_scan(d) for d in dirs]
    try:
        with db_errors(path):
            docs = watch_loaded(scans, store, now, drafts=drafts)
    finally:
        store.close()
    return scans, docs, now


def _print_docs(docs: list[dict[str, Any]]) -> None:
    """Each watch's notes, the stale sources (once each) and its one-line summary."""
    from firmpass.console import err_console, out_console
    from firmpass.i18n import both, msg

    shown = set()
    for doc in docs:
        for n in doc["notes"]:
            err_console.print(both(_text(n)), markup=False)
        for s in doc["store"]["stale"]:
            if s["source"] not in shown:
                shown.add(s["source"])
                err_console.print(both(_text(s["text"])), markup=False)
        c = doc["counts"]
        over = msg("watch.cli.overdue", n=c["art14_overdue"]) if c["art14_overdue"] else None
        line = msg("watch.cli.done", out=doc["scan"]["out"], open=c["open"], new=c["new"], resolved=c["resolved"],
                   exploited=c["exploited"], newly=c["newly_exploited"], clocks=c["art14_open"],
                   overdue=over if over else "")
        out_console.print(both(line), markup=False)


def _write_portfolio(portfolio: Path, scans: list[Any], docs: list[dict[str, Any]], now: dt.datetime) -> None:
    """Write PORTFOLIO/portfolio.json and .html and print its table."""
    from firmpass.console import out_console
    from firmpass.i18n import both, msg
    from firmpass.watch.portfolio import build, write

    data = build(portfolio.resolve(), scans, docs, now)
    write(portfolio, data)
    _print_table(out_console, data)
    out_console.print(both(msg("watch.cli.portfolio", scans=data["totals"]["scans"],
                               products=data["totals"]["products"], path=str(portfolio / "portfolio.html"))),
                      markup=False)


def _send_alerts(notify_cfg: dict[str, Any], scans: list[Any], docs: list[dict[str, Any]], now: dt.datetime) -> None:
    """Send the newly-exploited alerts through the configured channels and print each outcome."""
    from firmpass.console import err_console, out_console
    from firmpass.i18n import both
    from firmpass.notify import exploited_alerts, send

    for res in send(exploited_alerts(scans, docs, now), notify_cfg):
        (out_console if res["ok"] else err_console).print(both(_text(res["text"])), markup=False)


def _text(d):
    from firmpass.model import Text

    return d if isinstance(d, Text) else Text(**d)


def _print_table(console, data) -> None:
    from rich.table import Table

    from firmpass.i18n import msg

    def h(key: str) -> str:
        x = msg(key)
        return f"{x.en}\n{x.zh}"

    tab = Table(show_lines=False)
    tab.add_column(h("watch.tab.product"), overflow="fold")
    tab.add_column(h("watch.tab.version"), overflow="fold")
    for key in ("watch.tab.open", "watch.tab.new", "watch.tab.exploited", "watch.tab.clocks"):
        tab.add_column(h(key), justify="right")
    tab.add_column(h("watch.tab.next"), no_wrap=True)
    for p in data["products"]:
        for r in p["versions"]:
            tab.add_row(p["label"], r["version"], str(r["open"]), str(r["new"]), str(r["exploited"]),
                        str(r["clocks"]) + (f" ({r['overdue']}!)" if r["overdue"] else ""),
                        (r["next_deadline"] or "-")[:16])
    console.print(tab)
