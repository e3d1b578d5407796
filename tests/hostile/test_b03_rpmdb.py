"""B3: an image's rpmdb.sqlite is hostile: a recursive view must not hang identify, a zeroblob must not
eat memory, and the database is opened in place under OUT (nothing copied to the system temp dir,
no journal written beside it)."""
import os
import sqlite3
import struct
import time
from pathlib import Path

import pytest

from firmpass.identify import pkgdb


def _blob(name: str, ver: str) -> bytes:
    index, store = b"", b""
    for tag, val in ((1000, name), (1001, ver), (1002, "1")):
        index += struct.pack(">IIII", tag, 6, len(store), 1)
        store += val.encode() + b"\0"
    return struct.pack(">II", 3, len(store)) + index + store


def _db(path: Path, *sql: str):
    con = sqlite3.connect(path)
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()
    return path


def test_recursive_view_stops_at_deadline(tmp_path):
    db = _db(tmp_path / "rpmdb.sqlite",
             "CREATE VIEW Packages AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) "
             "SELECT zeroblob(10) AS blob FROM r")
    t0 = time.monotonic()
    with pytest.raises(pkgdb.RpmDbLimit, match="view"):
        pkgdb.parse_rpm_sqlite(db, time.monotonic() + 2)
    assert time.monotonic() - t0 < 5


def test_row_count_is_bounded(tmp_path):
    # a real table with more rows than any real rpm database: refused past the row bound
    db = _db(tmp_path / "rpmdb.sqlite", "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)",
             "INSERT INTO Packages (blob) WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 300000) "
             "SELECT x'00' FROM r")
    with pytest.raises(pkgdb.RpmDbLimit, match="rows"):
        pkgdb.parse_rpm_sqlite(db, time.monotonic() + 30)


def test_deadline_already_passed_interrupts(tmp_path):
    db = _db(tmp_path / "rpmdb.sqlite", "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)",
             "INSERT INTO Packages (blob) WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 50000) "
             "SELECT randomblob(100) FROM r")
    with pytest.raises(pkgdb.RpmDbLimit, match="deadline"):
        pkgdb.parse_rpm_sqlite(db, time.monotonic() - 1)


def test_zeroblob_is_bounded(tmp_path):
    # a blob column that is really a huge zeroblob stored in the file (sparse-ish): the length limit refuses it
    db = _db(tmp_path / "rpmdb.sqlite", "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)",
             "INSERT INTO Packages (blob) VALUES (zeroblob(40000000))")
    with pytest.raises(pkgdb.RpmDbLimit, match="too big"):
        pkgdb.parse_rpm_sqlite(db, time.monotonic() + 30)


def test_opened_in_place_nothing_written(tmp_path, monkeypatch):
    d = tmp_path / "out" / "unpacked"
    d.mkdir(parents=True)
    db = _db(d / "rpmdb.sqlite", "PRAGMA journal_mode=WAL", "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)",
             "INSERT INTO Packages (blob) VALUES (x'" + _blob("bash", "5.1.8").hex() + "')")
    for extra in ("-wal", "-shm"):
        Path(str(db) + extra).unlink(missing_ok=True)
    tmpdir = tmp_path / "systmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    before = sorted(os.listdir(d))
    pk = pkgdb.parse_rpm_sqlite(db, time.monotonic() + 30)
    assert [(p.name, p.version) for p in pk] == [("bash", "5.1.8-1")]
    assert sorted(os.listdir(d)) == before and os.listdir(tmpdir) == []


def test_identify_stage_warns_and_goes_on(tmp_path):
    from firmpass.identify import run as identify
    from tests.treectx import context_from_tree

    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    _db(root / "var/lib/rpm/rpmdb.sqlite",
        "CREATE TABLE t(x)",
        "CREATE VIEW Packages AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT x'00' AS blob FROM r")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('NAME="Test"\nVERSION_ID="1"\n')
    ctx = context_from_tree(root, tmp_path / "out")
    t0 = time.monotonic()
    identify(ctx)
    assert time.monotonic() - t0 < 30
    w = [w for w in ctx.result.warnings if w.code == "pkgdb_unreadable"]
    assert w and "rpmdb.sqlite" in w[0].message.en and "view" in w[0].message.en
