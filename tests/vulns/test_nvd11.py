"""Legacy NVD JSON 1.1 feeds import into the same records as the API 2.0 layout.

tests/fixtures/nvd11/ holds five real NVD records (two curl, two BusyBox, one OpenSSH with an AND
configuration 'running on Debian') twice: as the API 2.0 returns them, and laid out as the retired
nvdcve-1.1-YYYY.json feed carried them (CVE_Items, cpe23Uri, children, impact.baseMetricV3)."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from firmpass.vulns import match_components
from firmpass.vulns.importers import import_paths
from firmpass.vulns.nvd11 import to_api20
from firmpass.vulns.store import Store

from .conftest import comp

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "nvd11"


def _matches(store, comps):
    extra: dict = {}
    return {(v.id, v.component): (v.vex.state, sorted((s.version, s.base_score) for s in v.cvss), v.severity)
            for v in match_components(store, comps, extra, [])}


def test_nvd11_feed_matches_like_api20(tmp_path):
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    legacy = tmp_path / "nvdcve-1.1-2021.json.gz"  # the feeds ship gzipped
    with open(FIX / "nvdcve-1.1-sample.json", "rb") as src, gzip.open(legacy, "wb") as dst:
        shutil.copyfileobj(src, dst)
    rep = import_paths(a, [legacy])
    assert rep.by_format == {"nvd11": 5}
    import_paths(b, [FIX / "nvd-api20-same.json"])
    comps = [comp("curl", "7.76.1", "cpe:2.3:a:haxx:curl:7.76.1:*:*:*:*:*:*:*"),
             comp("busybox", "1.24.1", "cpe:2.3:a:busybox:busybox:1.24.1:*:*:*:*:*:*:*"),
             comp("openssh", "4.0", "cpe:2.3:a:openbsd:openssh:4.0:*:*:*:*:*:*:*")]
    got, want = _matches(a, comps), _matches(b, comps)
    assert got == want
    ids = {k[0] for k in got}
    assert {"CVE-2021-22898", "CVE-2021-22922", "CVE-2016-2148"} <= ids
    # AND configuration 'OpenSSH 4.0 running on Debian': the platform node is assumed and the match says so
    ssh = next(v for v in match_components(a, comps, {}, []) if v.id == "CVE-2008-3234")
    assert "debian_linux" in json.dumps(ssh.match)
    curl = next(v for k, v in got.items() if k[0] == "CVE-2021-22898")
    assert {"3.1", "2.0"} <= {ver for ver, _ in curl[1]} and all(0 < s <= 10 for _, s in curl[1])  # CVSS v3.1 and v2 carried over
    a.close(), b.close()


def test_and_configuration_and_metrics_relaid():
    feed = json.loads((FIX / "nvdcve-1.1-sample.json").read_text())
    item = next(i for i in feed["CVE_Items"] if i["cve"]["CVE_data_meta"]["ID"] == "CVE-2008-3234")
    cve = to_api20(item)
    (conf,) = cve["configurations"]
    assert conf["operator"] == "AND" and len(conf["nodes"]) == 2
    assert conf["nodes"][1]["cpeMatch"][0]["vulnerable"] is False
    item = next(i for i in feed["CVE_Items"] if i["cve"]["CVE_data_meta"]["ID"] == "CVE-2021-22922")
    cve = to_api20(item)
    assert "cvssMetricV31" in cve["metrics"] and cve["weaknesses"][0]["description"][0]["value"].startswith("CWE-")
    assert to_api20({"cve": None}) is None and to_api20({"cve": {"CVE_data_meta": {}}}) is None
