from pathlib import Path

import pytest

from tests.clitool import cli as shared_cli
import yaml

from firmpass.errors import UnusableInput
from firmpass.profile import load_profile, validate

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def cli(*args, input=None):
    return shared_cli(*args, env={"PATH": "/usr/bin:/bin"}, input=input)


def test_fixture_profiles_are_valid():
    full = load_profile(FIX / "profile-full.yaml")
    assert full["product"]["model"] == "R1000" and full["markets"] == ["eu", "uk", "us", "cn"]
    assert full["support"]["end_date"] == "2031-12-31"  # YAML dates become ISO strings
    poor = load_profile(FIX / "profile-poor.yaml")
    assert "contact_email" not in poor["vulnerability_disclosure"]


@pytest.mark.parametrize("text,where", [
    ("schema_version: 1\nproduct: {name: X}\nsupport: {end_date: soon}\n", "support.end_date"),
    ("schema_version: 1\nproduct: {name: X}\ncra_class: important\n", "cra_class"),
    ("schema_version: 1\nproduct: {name: X}\nmarkets: [eu, mars]\n", "markets.1"),
    ("schema_version: 1\nproduct: {name: X}\nupdates: {signed: sometimes}\n", "updates.signed"),
    ("schema_version: 1\nprodcut: {name: X}\n", "(top level)"),
    ("schema_version: 1\nproduct: [name: X\n", "line"),
])
def test_bad_profile_one_clear_line(tmp_path, text, where):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(UnusableInput) as e:
        load_profile(p)
    assert where in e.value.text.en and str(p) in e.value.text.en and "\n" not in e.value.text.en
    assert e.value.text.zh.startswith("产品档案")


def test_cli_validate_and_schema(tmp_path):
    r = cli("profile", "validate", str(FIX / "profile-full.yaml"))
    assert r.returncode == 0 and "valid" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nproduct: {name: X}\nsupport: {end_date: 31/12/2030}\n")
    r = cli("profile", "validate", str(bad))
    assert r.returncode == 2 and "support.end_date" in r.stderr and "Traceback" not in r.stderr
    r = cli("profile", "schema")
    schema = yaml.safe_load(r.stdout)
    assert schema["properties"]["cra_class"]["enum"] == ["default", "important-I", "important-II", "critical"]


def test_cli_init_defaults_and_interactive_zh(tmp_path):
    out = tmp_path / "d.yaml"
    assert cli("profile", "init", "--defaults", "-o", str(out)).returncode == 0
    assert validate(yaml.safe_load(out.read_text())) == []
    assert cli("profile", "init", "--defaults", "-o", str(out)).returncode == 2  # no overwrite without --force
    out2 = tmp_path / "zh.yaml"
    # manufacturer (6, with the Chinese name), product name, model, firmware, category, CRA category (accept suggestion), class (accept), use, consumer
    answers = "ACME\n艾克美网络\n\nCN\n\n\nR1000 路由器\nR1000\n1.0.0\nWi-Fi 路由器\n\n\n家庭上网\n是\n"
    r = cli("profile", "init", "--lang", "zh", "-o", str(out2), input=answers)
    assert r.returncode == 0, r.stderr
    assert "制造商名称" in r.stdout and "CRA 类别" in r.stdout
    p = load_profile(out2)
    assert p["product"]["cra_category"] == "router" and p["cra_class"] == "important-I"
    assert p["product"]["consumer"] is True and p["manufacturer"]["country"] == "CN"
    assert p["manufacturer"]["name_zh"] == "艾克美网络"
