"""The registry of markets and frameworks (src/firmpass/frameworks/registry.yaml) is the one place
that names them: adding a framework for a new market there (plus its catalogue) is all the CLI, the
profile schema, the assessment engine and the report need."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from firmpass import frameworks
from firmpass.frameworks import registry
from firmpass.model import ScanResult

PKG = Path(frameworks.__file__).parent
FX = Path(__file__).resolve().parents[1] / "fixtures" / "report" / "findings.json"

# a small catalogue in the shape tools/build_catalogues.py writes (two provisions, both languages)
CATALOGUE = {
    "framework": "jcstar",
    "title": {"en": "JC-STAR level 1 (Japan IoT security labelling)", "zh": "JC-STAR 一级（日本物联网安全标识）"},
    "versions": {"2025": {"date": "2025-03"}},
    "default_version": "2025",
    "uncertainty": None,
    "items": [
        {"id": "STAR1-1", "ref": "jcstar:STAR1-1", "group": {"en": "Authentication", "zh": "认证"},
         "title": {"en": "No common default password", "zh": "无通用默认密码"},
         "explanation": {"en": "Each device has its own password or the user sets one.", "zh": "每台设备有独立密码，或由用户设置。"},
         "status": "mandatory", "kind": "technical", "uncertain": False, "uncertainty": None, "crosswalk": []},
        {"id": "STAR1-2", "ref": "jcstar:STAR1-2", "group": {"en": "Updates", "zh": "更新"},
         "title": {"en": "Software can be updated", "zh": "软件可更新"},
         "explanation": {"en": "The maker provides security updates.", "zh": "制造商提供安全更新。"},
         "status": "mandatory", "kind": "technical", "uncertain": False, "uncertainty": None, "crosswalk": []},
    ],
}


@pytest.fixture
def with_japan(tmp_path):
    """The package's registry plus one framework and one market, in a copy outside the package."""
    shutil.copytree(PKG / "data", tmp_path / "data")
    (tmp_path / "data" / "jcstar.yaml").write_text(yaml.safe_dump(CATALOGUE, allow_unicode=True), encoding="utf-8")
    reg = yaml.safe_load((PKG / "registry.yaml").read_text(encoding="utf-8"))
    reg["frameworks"].append({"id": "jcstar", "order": 7, "label": {"en": "JC-STAR", "zh": "JC-STAR"}})
    reg["markets"].append({"id": "jp", "label": {"en": "Japan", "zh": "日本"}, "frameworks": ["jcstar"]})
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    registry.use(tmp_path / "registry.yaml")
    try:
        yield
    finally:
        registry.use(None)


def test_the_package_registry_names_what_the_code_used_to():
    r = registry.current()
    assert r.framework_ids() == ("en303645", "cra", "en18031", "psti", "nistir8425", "mlps")
    assert r.market_frameworks() == {"eu": ["cra", "en303645", "en18031"], "uk": ["psti", "en303645"],
                                     "us": ["nistir8425"], "cn": ["mlps"]}
    assert registry.market_label("uk").zh == "英国" and registry.market_label("xx").en == "xx"
    for f in r.frameworks:  # every catalogue it names loads and every hook it names exists
        assert frameworks.catalogue(f.id)["items"]
        if f.applicability:
            from firmpass.assess.engine import APPLICABILITY

            assert f.applicability in APPLICABILITY


def test_a_broken_registry_fails_at_load(tmp_path):
    reg = yaml.safe_load((PKG / "registry.yaml").read_text(encoding="utf-8"))
    reg["markets"][0]["frameworks"].append("nope")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(reg), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown framework"):
        registry.load(tmp_path / "r.yaml")
    reg = yaml.safe_load((PKG / "registry.yaml").read_text(encoding="utf-8"))
    reg["frameworks"][1]["order"] = reg["frameworks"][0]["order"]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(reg), encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate framework order"):
        registry.load(tmp_path / "r.yaml")


def test_adding_a_framework_and_a_market_is_one_registry_entry(with_japan):
    from firmpass.assess.engine import assess
    from firmpass.cli import parse_markets
    from firmpass.context import ScanOptions
    from firmpass.profile import validate
    from firmpass.report.view import Caps, build_view

    # CLI and options
    assert parse_markets("eu,jp") == ["eu", "jp"]
    assert "jp" in ScanOptions().markets
    # the profile schema
    assert validate({"schema_version": 1, "product": {"name": "x"}, "markets": ["jp"],
                     "declarations": {"jcstar:STAR1-1": {"verdict": "met", "evidence": "test report 12"}}}) == []
    assert any("markets" in e for e in validate({"schema_version": 1, "product": {"name": "x"}, "markets": ["mars"]}))
    # the engine: the market's framework, its provisions, the market summary
    result = ScanResult.model_validate_json(FX.read_bytes())
    a = assess(result, None, ["jp"])
    assert [f["id"] for f in a["frameworks"]] == ["jcstar"] and a["frameworks"][0]["markets"] == ["jp"]
    assert sorted(v["ref"] for v in a["verdicts"]) == ["jcstar:STAR1-1", "jcstar:STAR1-2"]
    assert a["summary"]["jp"]["frameworks"] == ["jcstar"] and a["method"]["markets"]["jp"] == ["jcstar"]
    # every market in one run: the new one last, in the registry's order
    assert list(assess(result, None, None)["summary"]) == ["eu", "uk", "us", "cn", "jp"]
    # the report: the market's own label in both languages
    view = build_view(result, a, None, Caps())
    assert [(m["id"], m["label"].en, m["label"].zh) for m in view["markets"]] == [("jp", "Japan", "日本")]
    from firmpass.present.i18n import t

    assert t("market.jp").zh == "日本"  # the chrome catalogue (batch index, compare) has it too


def test_the_package_registry_is_back_after_use_none(with_japan):
    assert "jp" in registry.market_ids()
    registry.use(None)
    assert "jp" not in registry.market_ids() and "jcstar" not in frameworks.FRAMEWORK_IDS
    with pytest.raises(KeyError):
        frameworks.catalogue("jcstar")
