"""B14-B17: OUT is owned by one scan at a time (lock), an earlier run's outputs never sit beside a new
run's (removed at the start), a user's own OUT/evidence/ is never deleted, temporary files live in OUT."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from firmpass.context import ScanOptions
from firmpass.outdir import EVIDENCE_MARKER, LOCK, TMP, OutLock
from firmpass.pipeline import scan
from tests.hostile.outdir_helpers import tiny_image


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmpass.cli", *args], capture_output=True, text=True, timeout=600)


def one_line(r: subprocess.CompletedProcess) -> str:
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_b14_second_scan_into_same_out_is_refused(tmp_path):
    img = tiny_image(tmp_path / "a.tar")
    out = tmp_path / "out"
    out.mkdir()
    held = OutLock(out).acquire()  # a scan in progress (the same flock a running firmpass holds)
    try:
        line = one_line(cli("scan", str(img), "-o", str(out), "--no-pdf"))
        assert "another firmpass scan" in line and "另一个 firmpass 扫描" in line
        assert not (out / "findings.json").exists() and not (out / "unpacked").exists()
    finally:
        held.release()
    # the lock is gone with its holder: the next scan runs
    r = cli("scan", str(img), "-o", str(out), "--no-pdf")
    assert r.returncode == 0, r.stderr
    assert not (out / LOCK).exists() and json.loads((out / "findings.json").read_text())["image"]["name"] == "a.tar"


def test_b15_stale_outputs_removed_at_start(tmp_path):
    a, b = tiny_image(tmp_path / "a.tar", "first"), tiny_image(tmp_path / "b.tar", "second")
    out = tmp_path / "out"
    scan(a, out, ScanOptions(pdf=False, progress=False))
    assert (out / "report.html").is_file() and (out / "evidence" / EVIDENCE_MARKER).is_file()
    (out / "report.pdf").write_bytes(b"%PDF-1.7 of the first image")  # as if the first run made one
    (out / "report.html.tmp").write_text("half-written")
    # the second run is 'killed' after inventory: only its own outputs may be in OUT
    scan(b, out, ScanOptions(pdf=False, progress=False), stages=["unpack", "inventory"])
    left = sorted(p.name for p in out.iterdir())
    assert left == ["findings.json", "unpacked"], left
    assert json.loads((out / "findings.json").read_text())["image"]["name"] == "b.tar"


def test_b16_users_evidence_dir_is_never_deleted(tmp_path):
    img = tiny_image(tmp_path / "a.tar")
    out = tmp_path / "out"
    (out / "evidence").mkdir(parents=True)
    doc = out / "evidence" / "signed-DoC.pdf"
    doc.write_bytes(b"%PDF signed declaration of conformity")
    line = one_line(cli("scan", str(img), "-o", str(out), "--no-pdf"))
    assert "evidence" in line and "not made by firmpass" in line and "并非由 firmpass 生成" in line
    assert doc.read_bytes() == b"%PDF signed declaration of conformity"
    assert sorted(p.name for p in out.iterdir()) == ["evidence"]
    # firmpass's own evidence/ (marked) is replaced on the next run, the marker not in the package
    out2 = tmp_path / "out2"
    scan(img, out2, ScanOptions(pdf=False, progress=False))
    (out2 / "evidence" / "stale.txt").write_text("from the earlier run")
    scan(img, out2, ScanOptions(pdf=False, progress=False))
    assert not (out2 / "evidence" / "stale.txt").exists() and (out2 / "evidence" / EVIDENCE_MARKER).exists()
    assert EVIDENCE_MARKER not in (out2 / "evidence" / "MANIFEST.sha256").read_text()


def test_b16_an_input_among_the_outputs_is_refused(tmp_path):
    img = tiny_image(tmp_path / "a.tar")
    out = tmp_path / "out"
    scan(img, out, ScanOptions(pdf=False, progress=False))
    vex = out / "sbom.cdx.json"  # the earlier run's SBOM given back as triage: it must not be deleted first
    line = one_line(cli("scan", str(img), "-o", str(out), "--no-pdf", "--vex", str(vex)))
    assert "inside" in line and vex.is_file()


def test_b17_temporary_files_live_under_out(tmp_path):
    """The scan's temporary directory is OUT/.tmp, a value of the scan (ctx.tmp), not of the process:
    the process's tempfile.tempdir and TMPDIR stay as they were while the scan runs (other scans may
    share the process), and what a killed run left in OUT/.tmp is removed."""
    from firmpass.pipeline import new_context, run_stages, STAGES

    img = tiny_image(tmp_path / "a.tar")
    out = tmp_path / "out"
    (out / TMP).mkdir(parents=True)
    (out / TMP / "left-by-a-killed-run.bin").write_bytes(b"image bytes")
    before = (tempfile.gettempdir(), os.environ.get("TMPDIR"))
    ctx = new_context(img, out, ScanOptions(pdf=False, progress=False))
    seen = []

    def on_stage(name):
        fd, p = tempfile.mkstemp(dir=ctx.tmp)  # what the scan's code does (see test_b17_every_tempfile_call...)
        os.close(fd)
        seen.append((name, ctx.tmp, (tempfile.gettempdir(), os.environ.get("TMPDIR")), Path(p).parent))

    run_stages(ctx, STAGES, on_stage)
    assert seen and all(t == out.resolve() / TMP and proc == before and parent == out.resolve() / TMP
                        for _n, t, proc, parent in seen)
    assert not any(s[0] == "unpack" and (out / TMP / "left-by-a-killed-run.bin").exists() for s in seen)
    assert not (out / TMP).exists()  # removed at the end, with what the killed run left
    assert (tempfile.gettempdir(), os.environ.get("TMPDIR")) == before


def test_b17_the_pdf_renderer_gets_out_tmp_as_its_tmpdir(tmp_path):
    """The PDF child is the one process a scan starts: its TMPDIR is OUT/.tmp, set in its own
    environment only."""
    from types import SimpleNamespace

    from firmpass.report.pdfjob import PdfJob

    out = tmp_path / "out"
    (out / TMP).mkdir(parents=True)
    before = os.environ.get("TMPDIR")
    assert PdfJob._env(SimpleNamespace(out=out))["TMPDIR"] == str(out / TMP)
    assert os.environ.get("TMPDIR") == before


def test_b17_every_tempfile_call_in_firmpass_names_its_directory():
    """The promise above holds for firmpass's own code only if no call falls back to the process's
    temp dir: every tempfile call under src/firmpass passes dir=, except the listed ones (not scans
    into a user's OUT)."""
    import ast

    import firmpass

    allowed = {"sbom/cli.py"}  # `firmpass sbom` scans into a private TemporaryDirectory: its OUT is the temp dir
    makers = {"mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "TemporaryDirectory",
              "SpooledTemporaryFile"}
    root = Path(firmpass.__file__).parent
    bad, calls = [], 0
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
                if name in makers:
                    calls += 1
                    if rel not in allowed and not any(k.arg == "dir" for k in node.keywords):
                        bad.append(f"{rel}:{node.lineno}")
    assert calls >= 1 and not bad, bad
