"""B9: `db import` of a file that only looks like a feed ({"catalogVersion": "x"}) exits 2 with one
bilingual line and changes nothing: the KEV table and every exploitation mark stay as they were, even
when a good file was named before it in the same command."""
import json
import sqlite3
from pathlib import Path

import subprocess
import sys




def fp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmpass.cli", *args], capture_output=True, text=True, timeout=300)


def _kev(path: Path, *cves: str) -> Path:
    path.write_text(json.dumps({"catalogVersion": "2024.01.01", "dateReleased": "2024-01-01T00:00:00Z",
                                "vulnerabilities": [{"cveID": c, "dateAdded": "2024-01-01"} for c in cves]}))
    return path


def _kev_rows(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        kev = next(t for t in tables if "kev" in t.lower())
        return sorted(r[0] for r in con.execute(f"SELECT cve FROM {kev}"))
    finally:
        con.close()


def test_fake_kev_changes_nothing(tmp_path):
    db = tmp_path / "v.db"
    r = fp(*["db", "import", str(_kev(tmp_path / "kev.json", "CVE-2021-44228", "CVE-2014-0160")),
                                 "--db", str(db)])
    assert r.returncode == 0, (r.stdout + r.stderr)
    assert _kev_rows(db) == ["CVE-2014-0160", "CVE-2021-44228"]
    bad = tmp_path / "bad.json"
    for content in ({"catalogVersion": "x"}, {"catalogVersion": "x", "vulnerabilities": [{"cveID": 5}]},
                    {"catalogVersion": "x", "vulnerabilities": "all"}):
        bad.write_text(json.dumps(content))
        good = _kev(tmp_path / "good.json", "CVE-2000-0001")  # imported first in the same command
        r = fp(*["db", "import", str(good), str(bad), "--db", str(db)])
        assert r.returncode == 2
        line = (r.stdout + r.stderr).strip()
        assert "\n" not in line and "Traceback" not in line
        assert "nothing was imported" in line and "未导入任何数据" in line
        assert _kev_rows(db) == ["CVE-2014-0160", "CVE-2021-44228"]


def test_fake_nvd_changes_nothing(tmp_path):
    db = tmp_path / "v.db"
    bad = tmp_path / "nvd.json"
    bad.write_text(json.dumps({"format": "NVD_CVE", "vulnerabilities": [{"cve": "not an object"}]}))
    r = fp(*["db", "import", str(bad), "--db", str(db)])
    assert r.returncode == 2 and "nvd" in (r.stdout + r.stderr)
