"""Coverage-guided fuzzing of firmpass's parsers with atheris (libFuzzer for Python), one harness per
parser, the same harnesses as the mutation fuzzer in bench/fuzz.py (an unpack handler run through
Unpacker.run as a scan runs it, check_vex_file for --vex, the package database parsers).

atheris is an optional dependency (`pip install 'firmpass[fuzz]'`); the test suite never needs it.
The mutation fuzzer (bench/fuzz.py) stays for the suite's fast slice because it is reproducible from
(harness, seed, iteration) without libFuzzer.

One harness per process (libFuzzer owns the process):

    python -m bench.fuzz_atheris tar -max_total_time=600 -artifact_prefix=bench/out/fuzz-crashes/tar/

The seed corpus is written to bench/out/fuzz-corpus/<harness>/ before libFuzzer starts: the seeds of
bench/fuzz.py (all built by code) plus the small images of the test corpus (tests/corpus/.cache/out)
whose format is the harness's.  libFuzzer adds what it finds to the same directory.  A crash is any
exception the harness raises (fuzz.Crash: an exception escaping Unpacker.run other than a limit, a
parser raising on text, an input taking longer than fuzz.HANG_S); libFuzzer writes the input to
`<artifact_prefix>crash-<sha1>`.  bench/fuzz_campaign.py runs a campaign over every harness and
tabulates it.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The test corpus's images by the harness that reads them (name suffixes of tests/corpus/.cache/out).
CORPUS_SUFFIXES = {"squashfs": (".sqfs", ".squashfs"), "ext4": (".ext4", ".ext2", ".ext3"), "jffs2": (".jffs2",),
                   "tar": (".tar",), "gzip": (".gz", ".tgz"), "bzip2": (".bz2",), "xz": (".xz",), "zstd": (".zst",),
                   "cpio": (".cpio",), "zip": (".zip",), "android-sparse": (".simg",), "trx": (".trx",),
                   "uimage": (".uimage", ".uImage")}
MAX_SEED = 1 << 20  # larger images make every execution slow; libFuzzer's -max_len follows the seeds


def write_corpus(name: str, dest: Path) -> int:
    """Write the seeds of harness `name` into dest (kept across runs); returns how many were added."""
    sys.path.insert(0, str(ROOT))
    from bench import fuzz

    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="firmpass-atheris-seeds-") as d:
        s = fuzz.seeds(Path(d))
    items = list(s.get(name, []))
    cache = ROOT / "tests" / "corpus" / ".cache" / "out"
    if cache.is_dir():
        for p in sorted(cache.iterdir()):
            if p.is_file() and p.name.endswith(CORPUS_SUFFIXES.get(name, ())) and p.stat().st_size <= MAX_SEED:
                items.append(p.read_bytes())
    import hashlib
    n = 0
    for data in items:
        f = dest / f"seed-{hashlib.sha1(data).hexdigest()}"
        if not f.exists():
            f.write_bytes(data)
            n += 1
    return n


def main(argv: list[str]) -> int:
    import atheris  # the `fuzz` extra

    if not argv or argv[0].startswith("-"):
        print("usage: python -m bench.fuzz_atheris HARNESS [libFuzzer options]", file=sys.stderr)
        return 2
    name, opts = argv[0], argv[1:]
    sys.path.insert(0, str(ROOT))
    corpus = ROOT / "bench" / "out" / "fuzz-corpus" / name
    write_corpus(name, corpus)
    from bench import fuzz

    run = fuzz.harness(name)
    # Instrument firmpass and the Python parsers it drives (dissect, PySquashfsImage, jefferson...)
    # for coverage feedback: import everything the harness reaches first, then instrument it all.
    import firmpass.identify.pkgdb
    import firmpass.unpack.handlers
    import firmpass.vulns.vex  # noqa: F401
    atheris.instrument_all()
    work_root = Path(tempfile.mkdtemp(prefix=f"firmpass-atheris-{name}-"))
    # executions counted here and written every 2 s (libFuzzer ends the process with exit(), so Python
    # exit handlers never run; its own final stats are lost when the campaign has to kill a run)
    stats_file = Path(os.environ.get("FIRMPASS_FUZZ_STATS") or ROOT / "bench" / "out" / f"fuzz-stats-{name}.json")
    stats = {"harness": name, "execs": 0, "first": None, "last": None}
    import json
    import time

    def one_input(data: bytes) -> None:
        now = time.time()
        stats["execs"] += 1
        if stats["first"] is None:
            stats["first"] = now
        if now - (stats["last"] or 0) >= 2:
            stats["last"] = now
            stats_file.write_text(json.dumps(stats))
        run(data, work_root)

    atheris.Setup([sys.argv[0], *opts, str(corpus)], one_input)
    os.chdir(work_root)  # libFuzzer may write files relative to the current directory
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
