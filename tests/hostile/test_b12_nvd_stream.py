"""B12: `db import` streams an NVD feed (ijson, 2000 records a batch) instead of json.loads of the
whole file: the records stored are the same as from the whole-file parser, and a bad entry deep in
the feed rolls the whole import back."""
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from firmpass.vulns import importers
from firmpass.vulns.store import open_store
from tests.hostile.nvdgen import write_feed


def _rows(db: Path):
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {}
        for t in tables:
            if t.lower().startswith(("vuln", "affected")):
                cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
                out[t] = sorted(tuple(str(x) for x in r) for r in con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {t}"))
        return out
    finally:
        con.close()


def test_streamed_feed_equals_whole_file_parse(tmp_path, monkeypatch):
    feed = tmp_path / "nvd.json"
    write_feed(feed, 300)
    monkeypatch.setattr(importers, "NVD_STREAM_BATCH", 64)  # several batches
    a = open_store(tmp_path / "a.db")
    rep = importers.import_paths(a, [feed])
    a.close()
    assert rep.by_format == {"nvd": 300}
    # the same file through the whole-file path
    monkeypatch.setattr(importers, "_is_nvd_feed", lambda p: False)
    b = open_store(tmp_path / "b.db")
    importers.import_paths(b, [feed])
    b.close()
    ra, rb = _rows(tmp_path / "a.db"), _rows(tmp_path / "b.db")
    assert ra and ra == rb


def test_bad_entry_late_in_feed_changes_nothing(tmp_path):
    feed = tmp_path / "nvd.json"
    write_feed(feed, 150)
    text = feed.read_text()
    feed.write_text(text[:-2] + ', {"cve": "not an object"}]}')
    db = tmp_path / "v.db"
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", "db", "import", str(feed), "--db", str(db)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "cve.id" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    con = sqlite3.connect(db)
    try:
        n = con.execute("SELECT count(*) FROM vuln").fetchone()[0] if "vuln" in [
            x[0] for x in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] else 0
    finally:
        con.close()
    assert n == 0
    json.loads(text)  # the generator writes valid JSON
