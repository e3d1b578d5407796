"""Importers: read vulnerability data files, sniff each one's format, hand it to its feed.

The feeds are plug-ins, one module each in vulns/feeds/ (NVD CVE API 2.0 JSON and the yearly feed
files, the legacy NVD 1.1 feeds, CVE JSON 5, OSV, CISA KEV, FIRST EPSS, ENISA EUVD, curl's table, the
Debian security tracker, triage files): this module knows none of them by name.  It walks
directories, reads `.gz` files, bounds sizes, streams a large NVD feed file, batches one-record files,
checks each document's shape before anything is written, and keeps the whole import in one
transaction.  The parsers stay importable from here (`importers.nvd_record` ...) as before.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from firmpass.errors import FirmpassError
from firmpass.vulns import feeds
from firmpass.vulns.feeds import sniff  # noqa: F401 - importers.sniff as before
from firmpass.vulns.feeds.common import CVE_RE, count_vulns, cwe_entry, newest_modified, vendor_severity  # noqa: F401
from firmpass.vulns.feeds.cve5 import cve5_record  # noqa: F401 - the parsers, importable from here as before
from firmpass.vulns.feeds.curl import curl_table_record  # noqa: F401
from firmpass.vulns.feeds.euvd import euvd_date, euvd_record  # noqa: F401
from firmpass.vulns.feeds.nvd import cpe_row, nvd_record, parse_nvd  # noqa: F401
from firmpass.vulns.feeds.osv import osv_record  # noqa: F401
from firmpass.vulns.store import Store

MAX_FILE = 2 * 1024**3  # decompressed bytes of one data file


@dataclass
class ImportReport:
    files: int = 0
    by_format: dict[str, int] = field(default_factory=dict)  # format -> records
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def add(self, fmt: str, n: int) -> None:
        self.by_format[fmt] = self.by_format.get(fmt, 0) + n


def read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        with gzip.open(path, "rb") as g:
            data = g.read(MAX_FILE + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError("file larger than 2 GiB once decompressed")
    return data


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    fp = Path(root) / f
                    if fp.suffix.lower() in (".json", ".gz", ".csv") and fp.is_file():
                        yield fp
        elif p.is_file():
            yield p
        else:
            raise FirmpassError("err.no_such_file", path=str(p))


























# ---------------------------------------------------------------------------------------- vendor severity, CWE


























def import_paths(store: Store, paths: list[Path], progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import every data file under `paths` into `store` (one transaction per file)."""
    rep = ImportReport()
    batch: dict[str, list] = {}
    origins: dict[str, str] = {}
    # one transaction for the whole import: a file that is not what it claims (shape_error) or any
    # failure part-way rolls everything back, so no table is emptied or half-replaced
    with store.session() as s, s.begin():
        _import_all(store, s, paths, rep, batch, origins, progress)
    return rep


NVD_STREAM_BATCH = 2000


def _open_decoded(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _is_nvd_feed(path: Path) -> bool:
    """An NVD API 2.0 feed file (its header names the format before the vulnerabilities list)."""
    try:
        with _open_decoded(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError, zlib.error):
        return False
    return re.search(rb'"format"\s*:\s*"NVD_CVE"', head) is not None


def _stream_nvd(store: Store, s, fp: Path, rep: ImportReport) -> None:
    """An NVD feed read as a stream (ijson): records are parsed and stored 2000 at a time, so a feed
    of any size costs the memory of one batch (B12: json.loads of a 500 MB feed peaked at 3.5 GB).
    Each entry's shape is checked as it comes; a bad one raises and the import's one transaction
    rolls back."""
    import ijson
    from ijson.common import ObjectBuilder

    batch: list[dict] = []
    meta: dict[str, Any] = {}
    total = 0
    builder = None
    newest: str | None = None  # the data's own date when the feed names none: its newest lastModified

    def flush() -> None:
        nonlocal total, newest
        if not batch:
            return
        recs, _ = parse_nvd({"vulnerabilities": batch})
        n = newest_modified(recs)
        if n and (newest is None or n > newest):
            newest = n
        total += store.ingest_vulns(s, "nvd", recs)
        s.flush()
        s.expunge_all()  # rows already written: the session keeps no objects between batches
        batch.clear()

    with _open_decoded(fp) as fh:
        for prefix, event, value in ijson.parse(fh, use_float=True):
            if builder is not None:
                builder.event(event, value)
                if prefix == "vulnerabilities.item" and event == "end_map":
                    item = builder.value
                    builder = None
                    if not (isinstance(item.get("cve"), dict) and isinstance(item["cve"].get("id"), str)):
                        raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd",
                                            detail="an entry has no cve.id")
                    batch.append(item)
                    if len(batch) >= NVD_STREAM_BATCH:
                        flush()
            elif prefix == "vulnerabilities.item":
                if event != "start_map":
                    raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd",
                                        detail="a 'vulnerabilities' entry is not an object")
                builder = ObjectBuilder()
                builder.event(event, value)
            elif prefix in ("timestamp", "format", "version") and event in ("string", "number"):
                meta[prefix] = value
    flush()
    store.touch_source(s, "nvd", "nvd", count_vulns(store, s, "nvd"), str(fp), meta.get("timestamp") or newest)
    rep.files += 1
    rep.add("nvd", total)


def _import_all(store, s, paths, rep, batch, origins, progress) -> None:
    for fp in iter_files(paths):
        if progress:
            progress(str(fp))
        if _is_nvd_feed(fp):
            try:
                _stream_nvd(store, s, fp, rep)
            except FirmpassError:
                raise
            except Exception as e:  # noqa: BLE001 - ijson errors, truncated gzip: the whole import rolls back
                from firmpass.i18n import exc_detail
                raise FirmpassError("db.err.bad_shape", path=str(fp), format="nvd", detail=exc_detail(e)) from None
            continue
        try:
            data = read_bytes(fp)
        except (OSError, ValueError, EOFError) as e:
            rep.skipped.append((str(fp), f"unreadable: {e}"))
            continue
        name = fp.name.lower().removesuffix(".gz")
        obj, text = None, None
        if name.endswith(".csv"):
            text = data.decode("utf-8", "replace")
            fmt = feeds.sniff_text(text)
        else:
            try:
                obj = json.loads(data)
            except ValueError:
                rep.skipped.append((str(fp), "not JSON"))
                continue
            fmt = feeds.sniff(obj)
        if fmt is None:
            rep.skipped.append((str(fp), "format not recognised"))
            continue
        bad = shape_error(fmt, obj, text)
        if bad:
            raise FirmpassError("db.err.bad_shape", path=str(fp), format=fmt, detail=bad)
        rep.files += 1
        # one-record files (a cvelistV5 tree, an OSV dump) are batched: one transaction per 2000 files
        if feeds.batched(fmt) and isinstance(obj, dict) and "records" not in obj:
            key = fmt
            batch.setdefault(key, []).append(obj)
            origins[key] = str(fp.parent)
            if len(batch[key]) >= 2000:
                _flush(store, s, key, batch, origins, rep)
            continue
        n = _import_one(store, s, fmt, obj, text, str(fp))
        s.flush()
        rep.add(fmt, n)
    for key in list(batch):
        _flush(store, s, key, batch, origins, rep)


def _flush(store: Store, s, key: str, batch: dict, origins: dict, rep: ImportReport) -> None:
    objs = batch.pop(key, [])
    if not objs:
        return
    n = _import_one(store, s, key, objs, None, origins.get(key, ""))
    s.flush()
    rep.add(key, n)


def shape_error(fmt: str, obj: Any, text: str | None) -> str | None:
    """Why a file recognised as `fmt` does not have that format's shape (English detail), or None.
    Checked before anything is written: formats that replace a whole table (KEV, the Debian tracker,
    EPSS) must never empty it from a file that only looks like them (`{"catalogVersion": "x"}`)."""
    return feeds.shape_error(fmt, obj, text)


def _import_one(store: Store, s, fmt: str, obj: Any, text: str | None, origin: str) -> int:
    return feeds.ingest(store, s, fmt, obj, text, origin)
