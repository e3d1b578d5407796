"""B12: archives are streamed, never copied into memory whole: unpacking a 256 MiB tar peaks far
below its size (measured in a fresh interpreter, ru_maxrss of that process alone)."""
import subprocess
import sys
import textwrap


def test_big_tar_is_streamed(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    with open(d / "big.bin", "wb") as fh:
        for _ in range(256):
            fh.write(b"\xa5" * (1 << 20))
    (d / "passwd").write_text("root::0:0::/root:/bin/sh\n")
    tar = tmp_path / "big.tar"
    subprocess.run(["tar", "cf", str(tar), "-C", str(d), "."], check=True)
    (d / "big.bin").unlink()
    code = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from firmpass.context import ScanOptions, Limits
        from firmpass.pipeline import scan
        ctx = scan(Path({str(tar)!r}), Path({str(tmp_path / 'out')!r}), ScanOptions(limits=Limits(max_ratio=1000)),
                   stages=["unpack"])
        assert any(f.path == "/big.bin" and f.size == 256 << 20 for f in ctx.result.files)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    peak_mib = int(r.stdout.strip().splitlines()[-1])
    assert peak_mib < 200, peak_mib  # the old whole-archive copy alone was 256 MiB
