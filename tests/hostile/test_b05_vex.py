"""B5: a malformed --vex (wrong types, deep nesting, huge numbers, not JSON, a gzip bomb, another
format) exits 2 with one bilingual line before OUT is touched; a library scan whose vulns stage fails
never lets the assessment say no known-exploited vulnerability is left."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmpass.assess.facts import fact_kev
from firmpass.model import Component, ImageInfo, ScanResult, ToolInfo

GOOD_OPENVEX = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01",
                "version": 1, "statements": [{"vulnerability": {"name": "CVE-2023-0001"}, "products": [
                    {"@id": "pkg:generic/busybox@1.36.1"}], "status": "not_affected",
                    "justification": "vulnerable_code_not_present"}]}


def _cases(tmp: Path) -> dict[str, Path]:
    c: dict[str, Path] = {}

    def w(name, data: bytes):
        p = tmp / name
        p.write_bytes(data)
        c[name] = p

    w("not-json.json", b"this is not json {")
    w("wrong-types.json", json.dumps({**GOOD_OPENVEX, "statements": [{"vulnerability": 5, "products": "all",
                                                                      "status": "not_affected"}]}).encode())
    w("wrong-types-cdx.json", json.dumps({"bomFormat": "CycloneDX", "vulnerabilities": [
        {"id": "CVE-1", "analysis": "not_affected", "affects": [{"ref": 7}]}]}).encode())
    w("list-stmts.json", json.dumps({**GOOD_OPENVEX, "statements": {"a": 1}}).encode())
    w("deep.json", b"{\"bomFormat\":\"CycloneDX\",\"x\":" + b"[" * 100_000 + b"]" * 100_000 + b"}")
    w("deep-moderate.json", b"{\"bomFormat\":\"CycloneDX\",\"x\":" + b"[" * 200 + b"]" * 200 + b"}")
    w("huge-number.json", b"{\"bomFormat\":\"CycloneDX\",\"specVersion\":" + b"9" * 100_000 + b"}")
    w("other-format.json", json.dumps({"hello": "world"}).encode())
    w("array.json", b"[1,2,3]")
    # 200 MiB of spaces compress to ~200 KiB: refused at 64 MiB, never fully inflated
    bomb = tmp / "bomb.json.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as g:
        g.write(b"{\"bomFormat\":\"CycloneDX\",\"pad\":\"")
        for _ in range(200):
            g.write(b" " * (1 << 20))
        g.write(b"\"}")
    c["bomb.json.gz"] = bomb
    w("bad-gzip.json.gz", b"\x1f\x8b\x08\x00garbage-garbage")
    return c


def test_bad_vex_exits_2_one_line_out_untouched(tmp_path):
    image = tmp_path / "image.bin"
    image.write_bytes(b"\0" * 4096)
    for name, p in _cases(tmp_path).items():
        out = tmp_path / f"out-{name}"
        r = subprocess.run([sys.executable, "-m", "firmpass.cli", "scan", str(image), "-o", str(out), "--vex", str(p),
                            "--no-pdf"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and "VEX" in lines[0] and "分诊" in lines[0], (name, r.stderr)
        assert "Traceback" not in r.stderr and not out.exists(), name


def test_good_vex_still_loads(tmp_path):
    from firmpass.vulns.vex import load_triage_files

    p = tmp_path / "ok.json"
    p.write_text(json.dumps(GOOD_OPENVEX))
    st = load_triage_files([p])
    assert [(s["vuln_id"], s["state"]) for s in st] == [("CVE-2023-0001", "not_affected")]


def test_failed_vulns_stage_is_not_no_exploited_left():
    r = ScanResult(tool=ToolInfo(version="t"), image=ImageInfo(path="x", name="x", sha256="0", sha512="0", size=1),
                   components=[Component(bom_ref="curl@7.88.1", name="curl", version="7.88.1")])
    r.tool.stages["vulns"] = {"status": "failed", "error": "bad vex"}
    assert fact_kev(r, None).state == "unknown"
    r.tool.stages["vulns"] = {"status": "ok"}
    assert fact_kev(r, None).state == "ok"


def test_library_scan_with_bad_vex_marks_vulns_failed(tmp_path):
    from firmpass.context import ScanOptions
    from firmpass.vulns import run as vulns_run
    from tests.treectx import context_from_tree

    (tmp_path / "root").mkdir()
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX", "vulnerabilities": [{"id": 1, "analysis": []}]}')
    ctx = context_from_tree(tmp_path / "root", tmp_path / "out", ScanOptions(vex_files=[bad]))
    with pytest.raises(Exception) as ei:
        vulns_run(ctx)
    assert "VEX" in str(ei.value) and "vuln_db" not in ctx.result.extra
