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


def build(force: bool = False) -> Path:
    """Build (or bring up to date) the corpus; returns the directory with the images and ground_truth.json."""
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
            return OUT
        if todo[0] == SCRIPTS[0]:
            done = {}
        env = dict(os.environ, W=str(CACHE / "work"), OUT=str(OUT))
        log = CACHE / "build.log"
        with open(log, "a") as fh:
            for script in todo:
                fh.write(f"\n==== {script.name}\n")
                fh.flush()
                r = subprocess.run(["bash", str(script)], env=env, stdout=fh, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    raise RuntimeError(f"corpus build failed in {script.name}, see {log}")
                done[script.name] = _digest(script)
                stamps.write_text(json.dumps(done, indent=1))
    return OUT


def ground_truth() -> dict:
    return json.loads((build() / "ground_truth.json").read_text())
