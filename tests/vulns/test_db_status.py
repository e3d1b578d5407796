"""`firmpass db status` ages each source from the data's own date (KEV dateReleased, NVD timestamp or
newest lastModified), not from when it was imported, and names each count for what it counts."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

from firmpass.vulns.cli import data_date
from firmpass.vulns.importers import import_paths
from firmpass.vulns.store import Store

from .conftest import FIX


def test_data_date_forms():
    assert data_date("2026-07-16") == datetime(2026, 7, 16, tzinfo=timezone.utc)
    assert data_date("2026.07.16") == datetime(2026, 7, 16, tzinfo=timezone.utc)  # KEV catalogVersion
    assert data_date("2008-09-09T12:33:00.000") == datetime(2008, 9, 9, 12, 33, tzinfo=timezone.utc)
    assert data_date("2021-08-28T07:01Z").tzinfo is not None
    assert data_date("not a date") is None and data_date(None) is None


def test_sources_keep_the_datas_own_date(tmp_path):
    st = Store(tmp_path / "v.db")
    import_paths(st, [FIX / "kev.json", FIX / "nvd_fixture.json.gz"])
    srcs = st.sources()
    st.close()
    assert srcs["kev"]["data_date"] == json.loads((FIX / "kev.json").read_text())["dateReleased"]
    nvd = json.loads(gzip.open(FIX / "nvd_fixture.json.gz").read())
    assert nvd["timestamp"] is None  # the file names no date: its newest record's lastModified stands for it
    assert srcs["nvd"]["data_date"] == max(v["cve"]["lastModified"] for v in nvd["vulnerabilities"])


def test_status_warns_on_old_data_imported_today(tmp_path, capsys):
    from firmpass.cli import main

    db = tmp_path / "v.db"
    main(["db", "import", str(FIX / "kev.json"), "--db", str(db)])
    capsys.readouterr()
    kev_date = data_date(json.loads((FIX / "kev.json").read_text())["dateReleased"])
    age = (datetime.now(timezone.utc) - kev_date).days
    assert age > 7  # the fixture is a dated KEV release
    main(["db", "status", "--db", str(db), "--max-age", "7"])
    cap = capsys.readouterr()
    assert f"source kev: its data is dated {age} days ago" in cap.err and "数据本身已是" in cap.err
    # the summary says what each number counts (1 KEV entry is not "1 exploited record" of everything)
    assert "CVEs in CISA KEV (known exploited): 1" in cap.out and "列入 CISA KEV" in cap.out
    assert "vulnerability records: 0" in cap.out
    # a generous limit: no warning (the age is the data's, imported a second ago or not)
    main(["db", "status", "--db", str(db), "--max-age", str(age + 1)])
    assert "warning" not in capsys.readouterr().err
