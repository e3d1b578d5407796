import json
from pathlib import Path

from tests.clitool import cli as shared_cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"


def cli(*args):
    return shared_cli(*args, env={"PATH": "/usr/bin:/bin"})  # no HOME: no developer's store or font cache


def test_assess_saved_scan_with_changed_profile(tmp_path, real_scans):
    (tmp_path / "findings.json").write_text(real_scans["firmware.bin"].result().to_json())
    r = cli("assess", str(tmp_path), "--profile", str(FIX / "profile-poor.yaml"))
    assert r.returncode == 0, r.stderr
    poor = json.loads((tmp_path / "assessment.json").read_text())
    r = cli("assess", str(tmp_path), "--profile", str(FIX / "profile-full.yaml"), "--market", "uk")
    assert r.returncode == 0, r.stderr and "assessment.json" in r.stdout
    full = json.loads((tmp_path / "assessment.json").read_text())
    assert full["markets"] == ["uk"] and full["profile"]["path"].endswith("profile-full.yaml")
    assert full["summary"]["uk"]["score"] > poor["summary"]["uk"]["score"]
    v = {x["ref"]: x for x in full["verdicts"]}
    assert v["psti:PSTI-S1-2"]["verdict"] == "met" and v["en303645:5.1-1"]["verdict"] == "not_met"
    assert full["image"]["name"] == "firmware.bin"


def test_assess_bad_inputs_exit_2(tmp_path, real_scans):
    r = cli("assess", str(tmp_path), "--profile", str(FIX / "profile-full.yaml"))
    assert r.returncode == 2 and "findings.json" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "findings.json").write_text("{not json")
    r = cli("assess", str(tmp_path))
    assert r.returncode == 2 and "findings.json" in r.stderr
    (tmp_path / "findings.json").write_text(real_scans["firmware.bin"].result().to_json())
    bad = tmp_path / "p.yaml"
    bad.write_text("schema_version: 1\nproduct: {name: X}\nmarkets: [mars]\n")
    r = cli("assess", str(tmp_path), "--profile", str(bad))
    assert r.returncode == 2 and "markets" in r.stderr and "产品档案" in r.stderr
    r = cli("assess", str(tmp_path))  # no profile: every answer-dependent verdict needs evidence
    data = json.loads((tmp_path / "assessment.json").read_text())
    assert r.returncode == 0 and data["profile"]["path"] is None and len(data["questions"]) > 20


def test_assess_without_profile_reuses_the_scans_profile(tmp_path, real_scans):
    """`firmpass assess OUT` with no --profile keeps the profile the scan was assessed with (when it is
    unchanged), says so, and says when it has changed or gone instead of silently dropping it."""
    import shutil

    (tmp_path / "findings.json").write_text(real_scans["firmware.bin"].result().to_json())
    prof = tmp_path / "profile.yaml"
    shutil.copy(FIX / "profile-full.yaml", prof)
    assert cli("assess", str(tmp_path), "--profile", str(prof)).returncode == 0
    with_profile = json.loads((tmp_path / "assessment.json").read_text())
    r = cli("assess", str(tmp_path))
    again = json.loads((tmp_path / "assessment.json").read_text())
    assert r.returncode == 0 and "profile.yaml" in r.stderr and "沿用" in r.stderr
    assert again["profile"]["sha256"] == with_profile["profile"]["sha256"]
    assert again["summary"] == with_profile["summary"]
    prof.write_text(prof.read_text() + "\n# edited\n")
    r = cli("assess", str(tmp_path))
    assert r.returncode == 0 and "changed" in r.stderr and "已被修改" in r.stderr
    assert json.loads((tmp_path / "assessment.json").read_text())["profile"]["sha256"] != with_profile["profile"]["sha256"]
    prof.unlink()
    r = cli("assess", str(tmp_path))
    gone = json.loads((tmp_path / "assessment.json").read_text())
    assert r.returncode == 0 and "no longer there" in r.stderr and gone["profile"]["path"] is None
    assert gone["summary"]["eu"]["counts"]["needs_evidence"] > with_profile["summary"]["eu"]["counts"]["needs_evidence"]


def test_assess_keeps_the_scans_pdf_choice(tmp_path, real_scans):
    """A scan made with --no-pdf recorded report.html only: `assess` re-renders the HTML and no PDF
    (it used to render a PDF every time); --pdf asks for one, --no-pdf removes it again."""
    r = real_scans["firmware.bin"].result()
    r.tool.stages = {"report": {"status": "ok", "files": ["report.html"]}}
    (tmp_path / "findings.json").write_text(r.to_json())
    prof = str(FIX / "profile-full.yaml")
    assert cli("assess", str(tmp_path), "--profile", prof).returncode == 0
    assert (tmp_path / "report.html").is_file() and not (tmp_path / "report.pdf").exists()
    res = cli("assess", str(tmp_path), "--profile", prof, "--pdf")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert cli("assess", str(tmp_path), "--profile", prof, "--no-pdf").returncode == 0
    assert not (tmp_path / "report.pdf").exists() and (tmp_path / "report.html").is_file()
