"""One deadline for the whole scan: when --timeout passes during unpacking, the unpack limit is a
warning, the stages that compute are skipped with a bilingual warning each, and findings.json, the
SBOMs and the report are still written with what was computed."""
import io
import json
import subprocess
import sys
import tarfile


def test_timeout_during_unpack_still_writes_everything(tmp_path):
    img = tmp_path / "fw.bin"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"root::0:0::/root:/bin/sh\n"
        ti = tarfile.TarInfo("etc/passwd")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    # then 128 MiB in which a plausible LZMA-alone header starts every 32 bytes: carving must probe each
    # one (4 million probes: about 20 s without a deadline on the 2-core CI machine), so the one-second
    # deadline falls inside unpack (zeros would not do: they are padding, skipped at once)
    cell = b"\x5d\x00\x00\x80\x00" + b"\xff" * 8 + b"\x00" + bytes(range(1, 19))
    with open(img, "wb") as fh:
        fh.write(buf.getvalue())
        fh.write(cell * ((128 << 20) // len(cell)))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", "scan", str(img), "-o", str(out), "--no-pdf",
                        "--timeout", "1"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "findings.json").read_text())
    assert any(f["path"] == "/etc/passwd" for f in d["files"])
    st = d["tool"]["stages"]
    assert {k for k, v in st.items() if v.get("status") == "skipped"} == {"identify", "vulns", "checks", "assess"}, st
    skipped = [w for w in d["warnings"] if w["code"] == "deadline"]
    assert len(skipped) == 4 and all("--timeout" in w["message"]["en"] and "时限" in w["message"]["zh"] for w in skipped)
    assert any(w["code"] == "limit" and "--timeout" in json.dumps(w) for w in d["warnings"])
    for name in ("sbom.cdx.json", "sbom.spdx.json", "report.html"):
        assert (out / name).is_file()
    assert "--timeout" in r.stderr and "Traceback" not in r.stderr
