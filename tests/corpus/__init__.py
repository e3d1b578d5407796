"""The test corpus: realistic firmware images built from real Debian binaries (build.sh).

Built once and cached under tests/corpus/.cache, keyed by the hash of build.sh, so the tests stay
fast.  `python -m tests.corpus build` builds it by hand.
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


def _key() -> str:
    h = hashlib.sha256()
    for s in SCRIPTS:
        h.update(s.read_bytes())
    return h.hexdigest()[:16]


def build(force: bool = False) -> Path:
    """Build (or reuse) the corpus; returns the directory with the images and ground_truth.json."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = CACHE / "stamp"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers build it once
        if not force and stamp.exists() and stamp.read_text() == _key() and (OUT / "ground_truth.json").exists():
            return OUT
        env = dict(os.environ, W=str(CACHE / "work"), OUT=str(OUT))
        log = CACHE / "build.log"
        with open(log, "w") as fh:
            for script in SCRIPTS:
                r = subprocess.run(["bash", str(script)], env=env, stdout=fh, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    raise RuntimeError(f"corpus build failed in {script.name}, see {log}")
        stamp.write_text(_key())
    return OUT


def ground_truth() -> dict:
    return json.loads((build() / "ground_truth.json").read_text())
