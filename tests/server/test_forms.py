"""The product form asks the questions of `firmpass profile init` and validates with the same schema:
a full profile shown in the form and posted back unchanged is the same profile."""
from __future__ import annotations

import yaml

from firmpass.profile import _plain
from firmpass.server import forms


def _posted(profile: dict, lang: str) -> dict:
    form = {f["name"]: f["value"] for sec in forms.sections(profile, lang) for f in sec["fields"]
            if f["kind"] != "markets" and not f["structured"]}  # structured values are shown, not posted
    for m in profile.get("markets", []):
        form[f"q.markets.{m}"] = "on"
    return form


def test_full_profile_round_trips_through_the_form(fixtures):
    """Editing a full profile and saving it unchanged keeps every answer, also those the form shows
    read-only (lists of mappings) and those it does not ask (incidents, declarations)."""
    prof = _plain(yaml.safe_load((fixtures / "profile-full.yaml").read_text(encoding="utf-8")))
    for lang in ("en", "zh"):
        back, errors = forms.parse(_posted(prof, lang), prof, lang)
        assert errors == []
        assert back == prof


def test_a_new_profile_from_the_questions_alone(fixtures):
    """The answers `profile init` would collect, typed into a new product's form, give a valid profile
    holding exactly those answers."""
    prof = _plain(yaml.safe_load((fixtures / "profile-full.yaml").read_text(encoding="utf-8")))
    form = _posted(prof, "en")
    back, errors = forms.parse(form, None, "en")
    assert errors == []
    assert back["product"]["model"] == prof["product"]["model"] and back["markets"] == prof["markets"]
    assert back["updates"]["mechanism"] == prof["updates"]["mechanism"]
    assert "incidents" not in back and "standards_applied" not in back


def test_a_wrong_answer_is_named_in_the_users_language():
    form = {"q.product.name": "Cam", "q.support.placed_on_market": "next spring", "q.markets.eu": "on"}
    _, errors = forms.parse(form, None, "zh")
    assert any("YYYY-MM-DD" in e for e in errors)
    prof, errors = forms.parse({"q.product.name": "", "q.markets.eu": "on"}, None, "zh")
    assert errors and "product" in errors[0] and "缺少必填字段" in errors[0]
