"""A product whose store learns of an exploited vulnerability after the scan, shared by the compare
and notification tests: the corpus image scanned with a store that lacks curl's records (A), the store
then given curl's advisory and a KEV entry dated yesterday for CVE-2023-38545 (standing in for CISA
adding it), and the same image scanned again with it (B)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from tests.clitool import cli as shared_cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
CVE = "CVE-2023-38545"  # curl SOCKS5 heap overflow: affects the corpus's real curl 7.88.1


def cli(*args: str, **kw):
    return shared_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, **kw)


def kev_with_new_entry(path: Path) -> Path:
    kev = json.loads((FIX / "vulns" / "kev.json").read_text())
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    entry = dict(kev["vulnerabilities"][0])
    entry.update(cveID=CVE, vendorProject="Haxx", product="curl", vulnerabilityName="curl SOCKS5 heap buffer overflow",
                 dateAdded=yesterday, dueDate=yesterday, notes="test scenario", cwes=["CWE-787"])
    kev["vulnerabilities"].append(entry)
    kev.update(count=len(kev["vulnerabilities"]), dateReleased=yesterday, catalogVersion=yesterday.replace("-", "."))
    path.write_text(json.dumps(kev))
    return path


def store_without_curl(w: Path) -> Path:
    base = w / "base"
    base.mkdir()
    for f in (FIX / "vulns").iterdir():
        if f.name != "curl_vuln.json":
            shutil.copy(f, base / f.name)
    db = w / "store.db"
    r = cli("db", "import", str(base), "--db", str(db))
    assert r.returncode == 0, r.stderr
    return db


def store_learns_curl(w: Path, db: Path) -> None:
    r = cli("db", "import", str(FIX / "vulns" / "curl_vuln.json"), str(kev_with_new_entry(w / "kev-new.json")),
            "--db", str(db))
    assert r.returncode == 0, r.stderr


def scan(image: Path, out: Path, db: Path, *extra: str) -> Path:
    r = cli("scan", str(image), "-o", str(out), "--db", str(db), "--no-pdf", *extra)
    assert r.returncode == 0, r.stderr
    return out
