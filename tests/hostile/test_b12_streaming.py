"""B12: archives are streamed, never copied into memory whole: unpacking a 256 MiB tar raises the
peak RSS of a fresh interpreter (after its imports) by far less than the archive's size."""
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
        from firmpass.unpack import handlers  # noqa: F401 - everything imported before the baseline
        import libarchive  # noqa: F401
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ctx = scan(Path({str(tar)!r}), Path({str(tmp_path / 'out')!r}), ScanOptions(limits=Limits(max_ratio=1000)),
                   stages=["unpack"])
        assert any(f.path == "/big.bin" and f.size == 256 << 20 for f in ctx.result.files)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    grew_mib = int(r.stdout.strip().splitlines()[-1])
    assert grew_mib < 128, grew_mib  # the old whole-archive copy alone was 256 MiB more
