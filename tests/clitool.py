"""The one way tests run the `firmpass` command: a fresh `python -m firmpass.cli` subprocess on this
checkout's sources, output captured as text, never a traceback hidden by a shell.

    from tests.clitool import cli
    r = cli("scan", str(img), "-o", str(out), "--no-pdf")
    r = cli("db", "status", env_extra={"FIRMPASS_DB": url})       # add to the environment
    r = cli("profile", "init", input="...\\n", cwd=tmp_path)

The environment is the caller's minus FIRMPASS_* settings (a developer's own store or options must not
leak into a test), with PYTHONPATH on the checkout and a wide terminal so one message stays one line.
`env` replaces it whole (PYTHONPATH is still added).  CLI tests pass --no-pdf unless they test the PDF:
a PDF costs seconds per call on a busy machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_env(env: dict | None = None, env_extra: dict | None = None) -> dict:
    base = dict(env) if env is not None else {k: v for k, v in os.environ.items() if not k.startswith("FIRMPASS_")}
    base.setdefault("PATH", "/usr/bin:/bin")
    base["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
    base.setdefault("COLUMNS", "200")
    base.update(env_extra or {})
    return base


def cli(*args: str, env: dict | None = None, env_extra: dict | None = None, input: str | None = None,
        cwd: Path | str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmpass.cli", *map(str, args)], capture_output=True, text=True,
                          env=cli_env(env, env_extra), input=input, cwd=cwd, timeout=timeout)


def fixture_store_env(tmp_path_factory) -> dict:
    """An environment whose FIRMPASS_DB is a fresh store filled with the test fixtures' vulnerability
    records (NVD, KEV, EPSS, curl, OpenSSL) and the Debian tracker's curl entries."""
    fixtures = ROOT / "tests" / "fixtures"
    db = tmp_path_factory.mktemp("db") / "vulns.db"
    e = dict(os.environ, PYTHONPATH=str(ROOT / "src"), FIRMPASS_DB=str(db))
    r = cli("db", "import", str(fixtures / "vulns"), str(fixtures / "e2e" / "debian_tracker_curl.json"), env=e,
            timeout=900)
    assert r.returncode == 0, r.stderr
    return e
