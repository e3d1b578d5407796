"""The CLI contract: version, one-line bilingual errors with exit 2, no tracebacks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "firmpass.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def assert_one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    line = lines[0]
    # bilingual: an English part and a Chinese part
    assert any("\u4e00" <= ch <= "\u9fff" for ch in line), line
    return line


def test_version():
    r = run("--version")
    assert r.returncode == 0
    from firmpass import __version__

    assert r.stdout.strip() == f"firmpass {__version__}"


def test_missing_image_is_one_line_exit_2(tmp_path):
    line = assert_one_line_error(run("scan", str(tmp_path / "nope.bin"), "-o", str(tmp_path / "out")))
    assert "nope.bin" in line and "no such file" in line


def test_empty_image_is_one_line_exit_2(tmp_path):
    img = tmp_path / "empty.bin"
    img.write_bytes(b"")
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "out")))
    assert "empty" in line


def test_directory_as_image_is_one_line_exit_2(tmp_path):
    assert_one_line_error(run("unpack", str(tmp_path), "-o", str(tmp_path / "out")))


def test_usage_errors_are_one_line_exit_2(tmp_path):
    assert_one_line_error(run("scan"))
    assert_one_line_error(run("no-such-command"))
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "o"), "--market", "mars"))
    assert "--market" in line


def test_unwritable_output_is_one_line_exit_2(tmp_path):
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    assert_one_line_error(run("scan", str(img), "-o", str(blocker / "out")))
