"""Whole-scan benchmark (issue 15): where a scan's time goes, beside floors measured in the same run.

    python -m bench.bench_scan [--repeat N] [--no-profile] [--no-full] [IMAGE ...]

Prints, as ratios (the machine may be shared; absolute seconds are only comparable in one run):
  * start-up: `firmpass --help` and the import of the scan command, beside `python -c pass`;
  * analysis per corpus image: unpack + inventory + identify + checks, and the whole scan without
    the PDF, each beside the native floor: Debian's extractor through every layer, then sha256sum,
    sha512sum and one grep over every extracted file (what a person would run by hand);
  * the full scan with the PDF on the largest corpus image, with each stage's seconds and the
    report stage's PDF time;
  * unless --no-profile: a cProfile of each stage of that full scan (a separate run, not timed),
    the functions that take the time (cumulative seconds), so the README of bench/ can say where
    time goes.

Each firmpass run is a fresh subprocess (nothing warm is shared between runs); the best of N runs
is kept for the floors and the analysis.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_unpack import FIRMWARE_PARTS, NATIVE

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=f"{os.environ.get('BENCH_SRC', ROOT / 'src')}:{ROOT}")  # BENCH_SRC: another checkout's src/ (before/after)
ANALYSIS = ["unpack", "inventory", "identify", "checks"]
# images measured by default: the largest with a native extractor chain, and two single-layer ones
IMAGES = ["firmware.bin", "rootfs-odc.cpio", "rootfs-xz.sqfs", "rootfs.jffs2"]
# grep pattern of the floor: what the checks look for in every file, in one pass
GREP = r"password|passwd|BEGIN .*PRIVATE KEY|telnetd|root:"

DRIVER = r"""
import cProfile, io, json, pstats, sys, time
from pathlib import Path
t0 = time.perf_counter()
from firmpass.context import ScanOptions
from firmpass.pipeline import STAGES, new_context, stage_runner
import firmpass.pipeline as pl
t_import = time.perf_counter() - t0
img, out, stages, pdf, prof, db = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1", sys.argv[6]
stages = STAGES if stages == "all" else stages.split(",")
opts = ScanOptions(pdf=pdf, db_path=db or None)
ctx = new_context(img, out, opts)
profiles = {}
if prof:
    real = pl.stage_runner
    def wrapped(name):
        fn = real(name)
        if fn is None:
            return None
        def run(c):
            p = cProfile.Profile()
            p.enable()
            try:
                fn(c)
            finally:
                p.disable()
                s = io.StringIO()
                pstats.Stats(p, stream=s).sort_stats("cumulative").print_stats(14)
                profiles[name] = s.getvalue()
        return run
    pl.stage_runner = wrapped
t = time.perf_counter()
pl.run_stages(ctx, stages)
dt = time.perf_counter() - t
r = ctx.result
rep = r.tool.stages.get("report") or {}
print(json.dumps({"seconds": dt, "import": t_import, "files": len(r.files), "components": len(r.components),
                  "vulns": len(r.vulnerabilities), "findings": len(r.findings),
                  "stages": {k: v.get("seconds") for k, v in r.tool.stages.items()},
                  # the PDF is made in a child process beside the evidence stage: its own time is what the
                  # report stage recorded (the child's wall and CPU seconds), and what the scan waited for it
                  "pdf_seconds": rep.get("pdf_seconds"), "pdf_cpu": rep.get("pdf_cpu"), "pdf_pages": rep.get("pdf_pages"),
                  "pdf_wait": rep.get("pdf_wait"),
                  "cpu": time.process_time(),
                  "profiles": profiles}))
"""


def _child_cpu() -> float:
    import resource

    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def firmpass_run(img: Path, stages: str, pdf: bool = False, profile: bool = False, db: str = "") -> dict:
    with tempfile.TemporaryDirectory(prefix="fpscan-") as d:
        c0 = _child_cpu()
        r = subprocess.run([sys.executable, "-c", DRIVER, str(img), d, stages, "1" if pdf else "0",
                            "1" if profile else "0", db], capture_output=True, text=True, env=ENV)
        if r.returncode:
            raise RuntimeError(r.stderr[-3000:])
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["child_cpu"] = _child_cpu() - c0  # the whole process, imports included (all threads)
        return res


def native_floor(corpus: Path, name: str) -> tuple[float, float]:
    """Extract with Debian's tools (every layer), then sha256sum, sha512sum and one grep over every file."""
    parts = FIRMWARE_PARTS if name == "firmware.bin" else [name]
    with tempfile.TemporaryDirectory(prefix="fpfloor-") as d:
        t, c0 = time.perf_counter(), _child_cpu()
        for i, p in enumerate(parts):
            sub = Path(d) / f"p{i}"
            sub.mkdir()
            r = subprocess.run(["bash", "-c", NATIVE[p].format(img=corpus / p, d=sub)], capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"{NATIVE[p]}: {r.stderr[-500:]}")
        walk = (f"find {d} -type f -print0 | xargs -0 -r sha256sum >/dev/null && "
                f"find {d} -type f -print0 | xargs -0 -r sha512sum >/dev/null && "
                f"grep -r -a -l -E '{GREP}' {d} >/dev/null; true")
        subprocess.run(["bash", "-c", walk], capture_output=True)
        return time.perf_counter() - t, _child_cpu() - c0


def startup(repeat: int) -> None:
    """Best of N, wall clock and CPU seconds (user+sys of the child: what a busy machine distorts least)."""
    import resource

    def best(cmd):
        walls, cpus = [], []
        for _ in range(repeat):
            b = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=ENV)
            walls.append(time.perf_counter() - t)
            a = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime)
        return min(walls), min(cpus)

    py = best([sys.executable, "-c", "pass"])
    print(f"start-up (best of {repeat}; wall s / CPU s; goal <= 0.3 s):  python -c pass {py[0]:.3f} / {py[1]:.3f}")
    for label, cmd in (("firmpass --help", ["--help"]), ("firmpass scan --help", ["scan", "--help"])):
        w, c = best([sys.executable, "-m", "firmpass.cli", *cmd])
        print(f"  {label:22} {w:.3f} / {c:.3f}")


def main(argv: list[str]) -> int:
    repeat, profile, full = 2, "--no-profile" not in argv, "--no-full" not in argv
    if "--repeat" in argv:
        i = argv.index("--repeat")
        repeat = int(argv[i + 1])
        del argv[i: i + 2]
    argv = [a for a in argv if not a.startswith("--")]
    from tests.corpus import build

    corpus = build()
    startup(max(repeat, 3))
    tmp = tempfile.TemporaryDirectory(prefix="fpdb-")
    db = str(Path(tmp.name) / "vulns.db")  # the test fixtures' vulnerability data, so the vulns stage has work
    subprocess.run([sys.executable, "-m", "firmpass.cli", "db", "import", str(ROOT / "tests" / "fixtures" / "vulns"),
                    "--db", db], capture_output=True, env=ENV, check=True)
    names = [n for n in (argv or IMAGES) if (corpus / n).exists()]
    print(f"\n{'image':18} {'MB':>6} {'floor s':>8} {'analysis s':>10} {'ratio':>6} {'no-pdf scan s':>13} {'ratio':>6} "
          f"{'CPU ratio':>9} {'files':>6}  stages (s, no-pdf scan)")
    for name in names:
        img = corpus / name
        floors = [native_floor(corpus, name) for _ in range(repeat)]
        floor, floor_cpu = min(f[0] for f in floors), min(f[1] for f in floors)
        ana = min((firmpass_run(img, ",".join(ANALYSIS)) for _ in range(repeat)), key=lambda r: r["seconds"])
        nop = min((firmpass_run(img, "all", db=db) for _ in range(repeat)), key=lambda r: r["seconds"])
        st = " ".join(f"{k} {v:.2f}" for k, v in nop["stages"].items() if v is not None)
        print(f"{name:18} {img.stat().st_size / 1e6:6.1f} {floor:8.2f} {ana['seconds']:10.2f} {ana['seconds'] / floor:6.1f} "
              f"{nop['seconds']:13.2f} {nop['seconds'] / floor:6.1f} {ana['child_cpu'] / floor_cpu:9.1f} {ana['files']:6}  {st}",
              flush=True)
    print("goal: analysis / floor <= 3 on each image (CPU ratio: the analysis process's CPU seconds, imports included, over\n"
          "the floor's; the load of a shared machine distorts it least)")
    if full:
        big = max((corpus / n for n in names), key=lambda p: p.stat().st_size)
        r = firmpass_run(big, "all", pdf=True, db=db)
        st = " ".join(f"{k} {v:.2f}" for k, v in r["stages"].items() if v is not None)
        pdf = r["pdf_seconds"]
        ev = r["stages"].get("evidence")
        own = None if ev is None else ev - (r.get("pdf_wait") or 0)
        print(f"\nfull scan with PDF, {big.name}: {r['seconds']:.2f} s (+ {r['import']:.2f} s imports; "
              f"{r['cpu']:.2f} CPU-s in the main process, {r['child_cpu']:.2f} CPU-s in all)  goal: <= 8 s\n"
              f"  stages: {st}\n"
              f"  PDF alone (its child process, beside the evidence stage): "
              f"{pdf if pdf is None else round(pdf, 2)} s, {r['pdf_cpu'] or 0:.2f} CPU-s, {r.get('pdf_pages')} pages  "
              f"goal: <= 2 s\n"
              f"  the scan waited {r.get('pdf_wait') or 0:.2f} s for it (inside the evidence stage's "
              f"{ev if ev is None else round(ev, 2)} s: the evidence's own {own if own is None else round(own, 2)} s)\n"
              f"  {r['files']} files, {r['components']} components, {r['vulns']} vulnerabilities, {r['findings']} findings")
        if profile:  # a second run under cProfile (its overhead would distort the timed one)
            r = firmpass_run(big, "all", pdf=True, profile=True, db=db)
            print("\nprofile of a second full scan (cProfile slows each stage 1.5-3x; read the shares, not the seconds)")
        for stage, text in r["profiles"].items():
            lines = [ln for ln in text.splitlines() if ln.strip()]
            head = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
            print(f"\n--- profile: {stage} ({r['stages'].get(stage)} s); top functions by cumulative time")
            for ln in lines[head: head + 15]:
                print("  " + ln[:160])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
