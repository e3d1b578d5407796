"""The CLI contract: version, one-line bilingual errors with exit 2, no tracebacks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.clitool import cli as run_cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


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


def test_bad_vulnerability_db_is_one_line_exit_2(tmp_path):
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    db = tmp_path / "vulns.db"
    db.write_text("this is not a database\n")
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "o"), "--db", str(db)))
    assert "vulns.db" in line and "SQLite" in line
    line = assert_one_line_error(run("db", "status", "--db", str(db)))
    assert "漏洞数据库" in line
    line = assert_one_line_error(run("db", "import", str(img), "--db", str(db)))
    assert "vulns.db" in line


def test_directory_as_profile_or_vex_says_not_a_file(tmp_path):
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "o"), "--profile", str(tmp_path)))
    assert "not a regular file" in line and "不是普通文件" in line
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "o"), "--vex", str(tmp_path)))
    assert "not a regular file" in line
    line = assert_one_line_error(run("profile", "validate", str(tmp_path)))
    assert "not a regular file" in line


def test_impossible_date_in_profile_is_one_line_exit_2(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("schema_version: 1\nproduct: {name: X}\nsupport: {end_date: 2027-02-30}\n")
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    line = assert_one_line_error(run("scan", str(img), "-o", str(tmp_path / "o"), "--profile", str(p)))
    assert "p.yaml" in line and "day is out of range" in line and "日期" in line


@pytest.mark.parametrize("opt,value", [("--max-depth", "-1"), ("--max-depth", "0"), ("--timeout", "0"),
                                       ("--max-files", "-5"), ("--max-ratio", "0"), ("--max-size", "0"),
                                       ("--max-size", "lots"), ("--max-ratio", "inf"), ("--max-ratio", "nan"),
                                       ("--timeout", "inf"), ("--max-size", "1e400K")])
def test_limits_must_be_positive_and_finite(tmp_path, opt, value):
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    line = assert_one_line_error(run("unpack", str(img), "-o", str(tmp_path / "o"), opt, value))
    assert opt in line


def test_internal_error_exits_2_without_traceback(tmp_path, monkeypatch):
    """A bug anywhere under the CLI is one bilingual line and exit 2 (the contract knows 0 and 2)."""
    from firmpass import cli

    def boom(*a, **k):
        raise RuntimeError("unexpected\nsecond line")

    monkeypatch.setattr("firmpass.pipeline.scan", boom)
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 100)
    with pytest.raises(SystemExit) as e:
        cli.main(["scan", str(img), "-o", str(tmp_path / "o"), "--no-pdf"])
    assert e.value.code == 2


def test_profile_with_yaml_aliases_is_refused_quickly(tmp_path):
    """Nested aliases ('billion laughs') would expand a 500-byte profile into 10^9 nodes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    p = tmp_path / "laughs.yaml"
    p.write_text("\n".join(lines) + "\n")
    line = assert_one_line_error(run("profile", "validate", str(p)))
    assert "aliases" in line and "别名" in line
