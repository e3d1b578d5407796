"""Real scans for the assessment tests: the pipeline's own stages (unpack ... checks) run once per test
session on corpus images, with a vulnerability store imported from the test fixtures.  The assessment
tests assess these results (findings.json as the checks stage wrote it) with real profiles; nothing here
is hand-made."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmpass import pipeline
from firmpass.context import ScanOptions
from firmpass.model import ScanResult

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
# everything before the assessment: assess / report / evidence are what the tests exercise or do not need
SCAN_STAGES = ["unpack", "inventory", "identify", "vulns", "sbom", "checks"]


@pytest.fixture(scope="session")
def vuln_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("assess-db") / "vulns.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), FIRMPASS_DB=str(db))
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", "db", "import", str(FIX / "vulns"),
                        str(FIX / "e2e" / "debian_tracker_curl.json")], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return db


class RealScan:
    """One corpus image scanned by the real stages: `out` holds findings.json; `result()` is a fresh copy."""

    def __init__(self, out: Path):
        self.out = out
        self._json = (out / "findings.json").read_text(encoding="utf-8")

    def result(self) -> ScanResult:
        return ScanResult.model_validate_json(self._json)


@pytest.fixture(scope="session")
def real_scans(corpus, vuln_db, tmp_path_factory) -> dict[str, RealScan]:
    """firmware.bin (the router rootfs with the planted defects), vendor-rootfs.tar.gz (a vendor tarball with
    an anonymous MQTT broker, verify=n and backdoor logins) and uImage-kernel (a bare kernel: nothing
    unpacked, the scan does not understand it)."""
    out = {}
    for name in ("firmware.bin", "vendor-rootfs.tar.gz", "uImage-kernel"):
        d = tmp_path_factory.mktemp("assess-scan") / name
        pipeline.scan(corpus / name, d, ScanOptions(db_path=vuln_db, pdf=False, progress=False), stages=SCAN_STAGES)
        out[name] = RealScan(d)
    return out


@pytest.fixture()
def firmware(real_scans) -> ScanResult:
    return real_scans["firmware.bin"].result()


@pytest.fixture()
def vendor(real_scans) -> ScanResult:
    return real_scans["vendor-rootfs.tar.gz"].result()


@pytest.fixture()
def bare_kernel(real_scans) -> ScanResult:
    return real_scans["uImage-kernel"].result()


def _special(d: str, names: list[str]) -> list[str]:
    """Device nodes and FIFOs of the corpus rootfs are not copied (reading /dev/urandom never ends)."""
    import stat

    keep = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
    return [n for n in names if not any(k(os.lstat(os.path.join(d, n)).st_mode) for k in keep)]


@pytest.fixture(scope="session")
def updater_scan(corpus, tmp_path_factory) -> ScanResult:
    """The corpus rootfs plus an SWUpdate daemon that fetches over http:// with no verification key (the
    layout tests/checks/test_units.py::test_updates uses), through the real identify and checks stages."""
    import shutil

    from tests.treectx import context_from_tree

    base = tmp_path_factory.mktemp("assess-updater")
    root = base / "root"
    shutil.copytree(corpus / "rootfs", root, symlinks=True, ignore=_special)
    (root / "usr/bin/swupdate").write_text("#!/bin/sh\n")
    (root / "etc/swupdate.cfg").write_text("globals: { verbose = true; };\n")
    (root / "etc/init.d/S90swupdate").write_text("#!/bin/sh\nswupdate -d '-u http://updates.acme.example/fw' &\n")
    ctx = context_from_tree(root, base / "out")
    pipeline.run_stages(ctx, ["identify", "checks"])
    return ctx.result
