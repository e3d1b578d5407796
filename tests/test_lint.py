"""Static checks that catch real mistakes (pyflakes rules through ruff): undefined names, unused
imports and variables, redefinitions.  Style is not checked here."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pyproject [test] extra)"
    r = subprocess.run([ruff, "check", "--no-cache", "--select", "F", "--output-format", "concise",
                        "src", "tests", "bench", "tools"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
