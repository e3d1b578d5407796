from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.clitool import cli

FX = Path(__file__).parent.parent / "fixtures" / "report"


def _run(*args: str) -> subprocess.CompletedProcess:
    return cli(*args)


def test_report_command_rerenders_scan_dir(tmp_path):
    shutil.copy(FX / "findings.json", tmp_path)
    shutil.copy(FX / "assessment.json", tmp_path)
    p = _run("report", str(tmp_path), "--lang", "zh", "--no-pdf", "--profile", str(FX / "profile.yaml"))
    assert p.returncode == 0, p.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "root 账户使用默认密码" in html and "Executive summary" not in html
    assert not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "evidence.zip").is_file()
    assert "ACME Networks" in (tmp_path / "evidence" / "eu-declaration-of-conformity.md").read_text()
    assert "已在" in p.stdout


def test_report_command_bad_input(tmp_path):
    p = _run("report", str(tmp_path))
    assert p.returncode == 2 and "findings.json" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "findings.json").write_text("{not json")
    p = _run("report", str(tmp_path))
    assert p.returncode == 2 and "没有 firmpass 扫描结果" in p.stderr
    shutil.copy(FX / "findings.json", tmp_path)
    p = _run("report", str(tmp_path), "--lang", "fr")
    assert p.returncode == 2 and "--lang" in p.stderr


def test_report_command_without_assessment_says_so(tmp_path):
    shutil.copy(FX / "findings.json", tmp_path)
    p = _run("report", str(tmp_path), "--no-pdf")
    assert p.returncode == 0, p.stderr
    assert "assessment" in p.stderr
    assert "缺少评估结果" in (tmp_path / "report.html").read_text(encoding="utf-8")
