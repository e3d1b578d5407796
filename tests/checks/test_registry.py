import re
from pathlib import Path


from firmpass.checks.registry import all_checks
from firmpass.model import SEVERITY_ORDER

SRC = Path(__file__).resolve().parents[2] / "src" / "firmpass" / "checks"


def provision_ids(fixtures):
    return {l.strip() for l in (fixtures / "checks" / "provision_ids.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")}


def test_registry_contract(fixtures):
    checks = all_checks()
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids)) >= 30
    known = provision_ids(fixtures)
    for c in checks:
        assert re.fullmatch(r"[A-Z]+-\d{3}", c.id)
        assert c.severity in SEVERITY_ORDER
        for t in (c.title, c.finding_title, c.description, c.remediation):
            assert t.en.strip() and t.zh.strip()
            assert re.search(r"[\u4e00-\u9fff]", t.zh), f"{c.id}: zh text has no Chinese"
        assert "{" not in c.title.en and "{" not in c.title.zh  # generic names, no placeholders
        assert c.provisions, c.id
        bad = [p for p in c.provisions if p not in known]
        assert not bad, f"{c.id}: unknown provision refs {bad}"
        assert callable(c.func)


def test_newcomer_finds_a_check_by_id():
    for c in all_checks():
        assert f'@check("{c.id}")' in (SRC / f"{c.family}.py").read_text()
        assert re.search(rf"^{c.id}:", (SRC / "catalogue" / f"{c.family}.yaml").read_text(), re.M)


def test_cli_list_zh():
    from typer.testing import CliRunner

    from firmpass.cli import app

    r = CliRunner().invoke(app, ["checks", "list", "--lang", "zh"])
    assert r.exit_code == 0, r.output
    assert "CRED-002" in r.output and "使用出厂默认口令或常见口令" in r.output
    assert "en303645:5.1-1" in r.output
    r = CliRunner().invoke(app, ["checks", "list", "--lang", "en", "--no-provisions"])
    assert "Factory-default or common passwords" in r.output and "en303645:5.1-1" not in r.output


def test_cli_lists_issue19_checks_both_languages():
    """The checks added for real vendor firmware are in the catalogue, with provisions, in EN and ZH."""
    from typer.testing import CliRunner

    from firmpass.cli import app

    new = {"CRED-007": ("Hard-coded logins", "硬编码的登录凭据"), "SVC-009": ("empty passwords", "空口令"),
           "SVC-010": ("MQTT broker", "MQTT 代理"), "SVC-011": ("without authentication", "未启用认证"),
           "BOOT-006": ("verification switched off", "校验被关闭")}
    en = CliRunner().invoke(app, ["checks", "list", "--lang", "en"]).output
    zh = CliRunner().invoke(app, ["checks", "list", "--lang", "zh"]).output
    for cid, (t_en, t_zh) in new.items():
        line_en = next(l for l in en.splitlines() if l.startswith(cid))
        line_zh = next(l for l in zh.splitlines() if l.startswith(cid))
        assert t_en in line_en and t_zh in line_zh, cid
        prov = en.splitlines()[en.splitlines().index(line_en) + 1]
        assert "en303645:" in prov and "cra:" in prov, cid
