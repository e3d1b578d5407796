"""The test corpus: realistic firmware images built from real Debian binaries (build.sh).

Built once and cached under tests/corpus/.cache with a hash per script (stamps.json), so the tests
stay fast and a new or changed add-on script (build-*.sh) runs alone, without rebuilding the rest.  `python -m tests.corpus build` builds it by hand.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
OUT = CACHE / "out"
# build.sh makes the base corpus; build-*.sh add more images to the same OUT, in name order
SCRIPTS = [HERE / "build.sh"] + sorted(HERE.glob("build-*.sh"))


def _digest(script: Path) -> str:
    return hashlib.sha256(script.read_bytes()).hexdigest()[:16]


def _pending(done: dict[str, str]) -> list[Path]:
    """Scripts to run: everything when build.sh changed, else the first add-on that changed or never
    ran and every add-on after it (a later add-on may use what an earlier one made)."""
    if done.get(SCRIPTS[0].name) != _digest(SCRIPTS[0]) or not (OUT / "ground_truth.json").exists():
        return list(SCRIPTS)
    for i, script in enumerate(SCRIPTS[1:], start=1):
        if done.get(script.name) != _digest(script):
            return SCRIPTS[i:]
    return []


def _say(verbose: bool, text: str) -> None:
    if verbose:
        print(text, file=sys.stderr, flush=True)


def _run_script(script: Path, env: dict, fh, verbose: bool) -> int:
    """Run one build script with its output in the log; with verbose, each step it announces
    (`== step` lines, build.sh's log()) is also said on stderr with the time so far."""
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for raw in p.stdout:
        fh.write(raw.decode("utf-8", "replace"))
        line = raw.decode("utf-8", "replace").strip()
        if line.startswith("== "):
            _say(verbose, f"corpus: {script.name}: {line[3:][:100]}  ({time.monotonic() - t0:.0f} s)")
    return p.wait()


def build(force: bool = False, verbose: bool = False) -> Path:
    """Build (or bring up to date) the corpus; returns the directory with the images and ground_truth.json.
    verbose: say on stderr what is being built (the first build fetches Debian packages and takes minutes)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stamps = CACHE / "stamps.json"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers build it once
        try:
            done = {} if force else json.loads(stamps.read_text())
        except (OSError, ValueError):
            done = {}
        todo = list(SCRIPTS) if force else _pending(done)
        if not todo:
            _say(verbose, f"corpus: up to date in {OUT}")
            return OUT
        _say(verbose, f"corpus: building {', '.join(s.name for s in todo)} from Debian packages into {OUT} "
                      f"(the first build takes several minutes; full log in {CACHE / 'build.log'})")
        if todo[0] == SCRIPTS[0]:
            done = {}
        env = dict(os.environ, W=str(CACHE / "work"), OUT=str(OUT))
        log = CACHE / "build.log"
        with open(log, "a") as fh:
            for script in todo:
                fh.write(f"\n==== {script.name}\n")
                fh.flush()
                t0 = time.monotonic()
                _say(verbose, f"corpus: {script.name} ...")
                rc = _run_script(script, env, fh, verbose)
                if rc != 0:
                    raise RuntimeError(f"corpus build failed in {script.name}, see {log}")
                done[script.name] = _digest(script)
                stamps.write_text(json.dumps(done, indent=1))
                _say(verbose, f"corpus: {script.name} done in {time.monotonic() - t0:.0f} s")
    return OUT


def ground_truth() -> dict:
    return json.loads((build() / "ground_truth.json").read_text())
