"""Hostile-input table: each case is built here from code (no binary blobs), run through the real
`firmpass` command in its own process, and reported as case, limit, time, peak RSS of that process
(os.wait4) and outcome.  `make bench` or `python -m bench.run hostile`.

Not a pass/fail test (the suite has those, tests/hostile): this shows what each bound costs on the
machine at hand."""
from __future__ import annotations

import gzip
import io
import json
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.names import build as build_names
from tests.hostile.test_b08_time import _newc


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return path


# The firmpass process is started by a small launcher whose only child it is: a child's peak RSS
# (ru_maxrss) starts at its parent's RSS when it is forked, so starting firmpass from this process,
# which builds inputs of hundreds of MiB, would report this process's size instead.
_LAUNCH = ("import json,resource,subprocess,sys;"
           "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE);"
           "sys.stdout.write(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,p.returncode,"
           "p.stderr.decode('utf-8','replace')]))")


def _run(args: list[str]) -> tuple[float, int, int, str]:
    """(seconds, peak RSS MiB, exit code, first stderr line) of one firmpass process."""
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", _LAUNCH, sys.executable, "-m", "firmpass.cli", *args],
                       check=False, capture_output=True, text=True, cwd=ROOT)
    kb, rc, err = json.loads(p.stdout)
    secs = time.monotonic() - t0
    lines = [l for l in err.splitlines() if l.strip() and "No product profile" not in l and "vulnerability database" not in l]
    first = lines[0] if lines else ""
    if args[0] == "scan":  # which stages the deadline stopped or skipped
        try:
            st = json.loads((Path(args[args.index("-o") + 1]) / "findings.json").read_text())["tool"]["stages"]
            cut = [f"{k} {v['status']}" for k, v in st.items() if v.get("status") in ("stopped", "skipped")]
            if cut:
                first = f"[{', '.join(cut)}] {first}"
        except (OSError, ValueError, KeyError):
            pass
    return secs, kb // 1024, rc, first


def cases(tmp: Path):
    # Android sparse: 44 bytes, one FILL chunk of 1 GiB
    import struct
    sp = tmp / "fill.simg"
    sp.write_bytes(struct.pack("<I4H4I", 0xED26FF3A, 1, 0, 28, 12, 4096, 262144, 1, 0)
                   + struct.pack("<2H2I", 0xCAC2, 0, 262144, 16) + b"\xa5\x5a\xa5\x5a")
    yield "sparse FILL bomb (44 B -> 1 GiB)", "--max-ratio 250", ["unpack", str(sp), "-o", str(tmp / "o1")]

    z = tmp / "zeros.bin"
    with open(z, "wb") as fh:
        fh.write(b"junk")
        fh.truncate(256 << 20)
    yield "carving 256 MiB of zeros", "--timeout 5", ["unpack", str(z), "-o", str(tmp / "o2"), "--timeout", "5"]

    deep = _tar(tmp / "deep.tar", [("/".join(["d"] * 1500) + "/f", b"x"), ("etc/passwd", b"root::0:0::/:/bin/sh\n")])
    yield "tar entry 1500 components deep", "no recursion", ["unpack", str(deep), "-o", str(tmp / "o3")]

    longname = tmp / "long.cpio"
    longname.write_bytes(_newc([b"a" * (1 << 20), b"etc/passwd"]))
    yield "cpio member name of 1 MiB", "255 B a name part", ["unpack", str(longname), "-o", str(tmp / "o4")]

    many = tmp / "many.cpio"
    many.write_bytes(_newc(b"f%d" % i for i in range(300_000)))
    yield "cpio of 300,000 empty entries", "--max-files 100000", ["unpack", str(many), "-o", str(tmp / "o5"),
                                                                  "--max-files", "100000"]

    # the case: 1,000,000 empty entries (70 s and 1.5 GB before); bounded by --max-files (default
    # 250,000), the memory per entry (tests/hostile/test_b08_entries_memory.py) and the deadline
    million = tmp / "million.cpio"
    million.write_bytes(_newc(b"f%d" % i for i in range(1_000_000)))
    yield "cpio of 1,000,000 empty entries", "--timeout 60, default --max-files", [
        "unpack", str(million), "-o", str(tmp / "o5m"), "--timeout", "60"]
    million.unlink()

    # one deadline across the stages: a tree of 60,000 small files whose identify and checks run past it
    wide = tmp / "wide.tar"
    with tarfile.open(wide, "w") as t:
        for i in range(60_000):
            data = b"#!/bin/sh\necho %d\n" % i
            ti = tarfile.TarInfo(f"usr/share/x/{i % 100}/f{i}.sh")
            ti.size, ti.mode = len(data), 0o755
            t.addfile(ti, io.BytesIO(data))
    yield "scan of 60,000 files under --timeout 60", "one deadline, every stage", [
        "scan", str(wide), "-o", str(tmp / "o5d"), "--no-pdf", "--timeout", "60"]

    esc = _tar(tmp / "ansi.tar", [("etc/\x1b[2J\x1b[Hscan finished\nx", b"x"), ("etc/passwd", b"root::0:0::/:/bin/sh\n")])
    yield "member names with ANSI escapes and newlines", "escaped on the terminal", [
        "scan", str(esc), "-o", str(tmp / "o5e"), "--no-pdf"]

    (tmp / "nested-names").mkdir()
    nested = build_names("tar", tmp / "nested-names")
    outer = _tar(tmp / "outer.tar", [("rootfs.tar", nested.read_bytes())])
    yield "nested tar with non-UTF-8 names", "names are bytes", ["scan", str(outer), "-o", str(tmp / "o5n"), "--no-pdf"]

    big = tmp / "big.tar"
    with tarfile.open(big, "w") as t:
        ti = tarfile.TarInfo("big.bin")
        ti.size = 512 << 20
        t.addfile(ti, _Pattern(ti.size))
    yield "512 MiB tar (streamed)", "--max-ratio 1000", ["unpack", str(big), "-o", str(tmp / "o6"), "--max-ratio", "1000"]

    names = build_names("squashfs", tmp)
    yield "squashfs with GBK/Latin-1/invalid names", "names are bytes", ["scan", str(names), "-o", str(tmp / "o7"),
                                                                         "--no-pdf"]

    shadow = _tar(tmp / "shadow.tar", [("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                                       ("etc/shadow", b"root:$6$rounds=999999999$abcdefgh$" + b"A" * 86 + b":1::::::\n")])
    yield "shadow $6$rounds=999999999", "200000 rounds", ["scan", str(shadow), "-o", str(tmp / "o8"), "--no-pdf"]

    db = tmp / "rpmdb.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE VIEW Packages AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) "
                "SELECT zeroblob(1000000) AS blob FROM r")
    con.commit()
    con.close()
    rpm = _tar(tmp / "rpm.tar", [("var/lib/rpm/rpmdb.sqlite", db.read_bytes()), ("etc/passwd", b"root::0:0::/:/bin/sh\n")])
    yield "rpmdb.sqlite recursive zeroblob view", "table only, deadline", ["scan", str(rpm), "-o", str(tmp / "o9"),
                                                                          "--no-pdf"]

    bomb = tmp / "vex.json.gz"
    with gzip.open(bomb, "wb") as g:
        g.write(b'{"bomFormat":"CycloneDX","pad":"')
        for _ in range(512):
            g.write(b" " * (1 << 20))
        g.write(b'"}')
    yield "--vex gzip bomb (512 MiB inflated)", "64 MiB", ["scan", str(shadow), "-o", str(tmp / "o10"), "--vex", str(bomb)]

    from tests.hostile.nvdgen import write_feed
    nvd = tmp / "nvd.json"
    size = write_feed(nvd, 10_000)
    yield f"db import NVD feed ({size >> 20} MiB, 10,000 records)", "streamed", ["db", "import", str(nvd), "--db",
                                                                               str(tmp / "nvd.db")]

    deep = tmp / "deep-vex.json"
    deep.write_text('{"@context": "https://openvex.dev/ns/v0.2.0", "statements": ' + "[" * 100_000 + "]" * 100_000 + "}")
    yield "--vex nested 100,000 levels", "64 levels", ["scan", str(shadow), "-o", str(tmp / "o11"), "--vex", str(deep)]

    kev = tmp / "kev.json"
    kev.write_text(json.dumps({"catalogVersion": "x"}))
    yield 'db import {"catalogVersion":"x"}', "shape check", ["db", "import", str(kev), "--db", str(tmp / "v.db")]


class _Pattern(io.RawIOBase):
    """`size` bytes of a repeating pattern, read in chunks (the tar is written without holding it)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        b[:n] = b"\xa5" * n
        self.left -= n
        return n

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return b"\xa5" * n


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="firmpass-bench-hostile-") as d:
        for case, limit, args in cases(Path(d)):
            secs, rss, rc, line = _run(args)
            outcome = f"exit {rc}" + (f": {line[:110]}" if line else "")
            rows.append((case, limit, f"{secs:.1f} s", f"{rss} MiB", outcome))
            print(f"  {case:<42} {limit:<22} {secs:>7.1f} s {rss:>6} MiB  {outcome}", flush=True)
        # the deep tree is removed without recursion (pytest's and Python's rmtree recurse)
        from firmpass.outdir import remove_tree
        for sub in Path(d).iterdir():
            if sub.is_dir():
                remove_tree(sub)
    print("\nhostile input: case | limit | time | peak RSS | outcome")
    for r in rows:
        print(" | ".join(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
