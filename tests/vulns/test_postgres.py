"""The vulnerability store on PostgreSQL (the team-server deployment) gives exactly the results of
the SQLite store: same import counts, same matches, rule-outs, KEV/EPSS enrichment and ordering.

A throw-away PostgreSQL server is started from Debian's postgresql package (installed by `make`),
on a Unix socket in a temporary directory, as the `postgres` user when the tests run as root."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from firmpass.vulns import match_components
from firmpass.vulns.importers import import_paths
from firmpass.vulns.store import Store

from .conftest import FIX, comp

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture(scope="module")
def pg_url():
    if not BINDIRS:
        pytest.skip("Debian's postgresql package is not installed (make installs it)")
    pytest.importorskip("psycopg")
    bindir = BINDIRS[-1]
    d = tempfile.mkdtemp(prefix="fp-pg-")
    os.chmod(d, 0o755)
    pre: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(d, "postgres", "postgres")
        pre = ["runuser", "-u", "postgres", "--"]
    subprocess.run(pre + [f"{bindir}/initdb", "-D", f"{d}/data", "-A", "trust", "-U", "firmpass", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(pre + [f"{bindir}/pg_ctl", "-D", f"{d}/data", "-w", "-l", f"{d}/log",
                          "-o", f"-k {d} -c listen_addresses='' -p {port} -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://firmpass@/postgres?host={d}&port={port}"
    finally:
        subprocess.run(pre + [f"{bindir}/pg_ctl", "-D", f"{d}/data", "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


COMPONENTS = [
    comp("curl", "7.88.1", "cpe:2.3:a:haxx:curl:7.88.1:*:*:*:*:*:*:*"),
    comp("openssl", "1.0.1f", "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"),
    comp("openssl", "3.0.11", "cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*"),
    comp("busybox", "1.35.0", "cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*"),
    comp("dropbear", "2022.83", "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*"),
    comp("dnsmasq-base", "2.76-5+deb9u1", "cpe:2.3:a:thekelleys:dnsmasq:2.76:*:*:*:*:*:*:*", distro="debian",
         package_version="2.76-5+deb9u1", source_package="dnsmasq"),
    comp("dnsmasq-base", "2.76-5", "cpe:2.3:a:thekelleys:dnsmasq:2.76:*:*:*:*:*:*:*", distro="debian",
         package_version="2.76-5", source_package="dnsmasq"),
]


def _dump(store: Store) -> list[dict]:
    return [v.model_dump(mode="json") for v in match_components(store, COMPONENTS, {}, [])]


def test_postgres_store_matches_sqlite(pg_url, tmp_path):
    lite, pg = Store(tmp_path / "v.db"), Store(url=pg_url)
    try:
        a, b = import_paths(lite, [FIX]), import_paths(pg, [FIX])
        assert a.by_format == b.by_format and b.by_format.get("nvd", 0) > 100
        assert {k: v["records"] for k, v in lite.sources().items()} == {k: v["records"] for k, v in pg.sources().items()}
        assert lite.counts() == pg.counts()
        want, got = _dump(lite), _dump(pg)
        assert len(got) > 10 and got == want
        states = {(v["id"], v["component"]): v["vex"]["state"] for v in got}
        assert states[("CVE-2017-14491", "dnsmasq-base@2.76-5+deb9u1")] == "not_affected"
        assert states[("CVE-2017-14491", "dnsmasq-base@2.76-5")] == "affected"
        assert got[0]["kev"]  # exploited first, on either database
        # a second import is idempotent on PostgreSQL too
        import_paths(pg, [FIX])
        assert _dump(pg) == want and pg.counts() == lite.counts()
    finally:
        lite.close()
        pg.close()


def test_scan_and_db_commands_take_a_database_url(pg_url, tmp_path, corpus):
    """`--db URL` and FIRMPASS_DB=URL reach the server store from the CLI: import, status, scan."""
    import json

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root / "src"))

    from tests.clitool import cli as shared_cli

    def cli(*args, **kw):
        return shared_cli(*args, env=kw.get("env", env))

    r = cli("db", "import", str(FIX), "--db", pg_url)
    assert r.returncode == 0 and "postgresql" in r.stdout, r.stderr
    r = cli("db", "status", env=dict(env, FIRMPASS_DB=pg_url))
    assert r.returncode == 0 and "nvd" in r.stdout, r.stderr
    out = tmp_path / "out"
    r = cli("scan", str(corpus / "rootfs-xz.sqfs"), "-o", str(out), "--no-pdf", "--db", pg_url)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((out / "findings.json").read_text())
    assert data["extra"]["vuln_db"]["path"].startswith("postgresql") and data["vulnerabilities"]
    bad = pg_url.rsplit("port=", 1)[0] + "port=1"
    r = cli("db", "status", "--db", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
