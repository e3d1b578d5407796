"""B8: an archive of many empty entries (1,000,000 cost 1.5 GB RSS and 70 s).  The entries are
bounded in number (--max-files) and in time (--timeout, tests/hostile/test_b08_time.py); this test
bounds what one entry costs in memory, so --max-files bounds the memory too.  Peak RSS is measured
for the real `firmpass unpack` (unpack and inventory) on a small and a large generated cpio in the
same run; the cost per extra entry must stay under 4 KiB (it was about 5 KiB: the inventory's 8 MiB
read buffer per file on 8 threads and one Future per file submitted at once)."""
import json
import subprocess
import sys

from tests.hostile.test_b08_time import _newc

PER_ENTRY = 4096


def _peak_rss(args) -> tuple[int, subprocess.CompletedProcess]:
    """Peak RSS (bytes) of one firmpass process: measured by a parent that runs nothing else."""
    code = ("import json,resource,subprocess,sys;"
            "r=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,r.returncode,r.stderr]))")
    p = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "firmpass.cli", *args],
                       capture_output=True, text=True, timeout=900)
    kb, rc, err = json.loads(p.stdout)
    return kb * 1024, subprocess.CompletedProcess(args, rc, "", err)


def test_memory_per_empty_entry_is_bounded(tmp_path):
    small, big = 2_000, 40_000
    for n in (small, big):
        (tmp_path / f"{n}.cpio").write_bytes(_newc(b"d/f%d" % i for i in range(n)))
    rss_small, r = _peak_rss(["unpack", str(tmp_path / f"{small}.cpio"), "-o", str(tmp_path / "o1")])
    assert r.returncode == 0, r.stderr
    rss_big, r = _peak_rss(["unpack", str(tmp_path / f"{big}.cpio"), "-o", str(tmp_path / "o2")])
    assert r.returncode == 0, r.stderr
    per = (rss_big - rss_small) / (big - small)
    assert per < PER_ENTRY, f"{per:.0f} bytes per entry ({rss_small >> 20} MiB -> {rss_big >> 20} MiB)"
    # and --max-files bounds the entries, hence the memory: the same archive stopped at 2,000 files
    rss_cut, r = _peak_rss(["unpack", str(tmp_path / f"{big}.cpio"), "-o", str(tmp_path / "o3"),
                            "--max-files", str(small)])
    assert "more than 2000 files" in r.stderr
    assert rss_cut < rss_small + small * PER_ENTRY + (16 << 20), (rss_cut >> 20, rss_small >> 20)
