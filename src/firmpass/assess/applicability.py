"""Whether a provision applies to the product before any evidence is weighed: the profile's scope
(a rule's applies_if / trigger) and the framework hooks named in the registry (APPLICABILITY).
Used by assess.engine."""
from __future__ import annotations

import re

from firmpass import frameworks
from firmpass.frameworks import registry
from firmpass.assess import facts as F
from firmpass.i18n import msg
from firmpass.model import Text
from firmpass.profile import get


ZH_NUM = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五"}
# predicates about the product's scope (decided before findings) vs its features (a finding that shows the
# feature exists overrules the profile's "absent")
FEATURE_PREDICATES = {"preinstalled_passwords", "sensors"}
# optional provisions: not applicable unless the maker opts in (unknown = not opted in)
OPTIONAL_PREDICATES = {"sbom_shared", "declared"}
_LEVELS = re.compile(r"L(\d)")


def mlps_min_level(item: dict) -> int | None:
    m = _LEVELS.search(str(item.get("levels") or ""))
    return int(m.group(1)) if m else None


def _na(applies, why, field=None, kind="scope"):
    return applies, why, field, kind


def _appl_mlps_level(item: dict, profile: dict | None):
    """MLPS: a provision of a higher protection level than the operator's system does not apply."""
    lo, lvl = mlps_min_level(item), get(profile, "mlps_level")
    if lo and lo > 1:
        if lvl is None:
            return _na(None, msg("assess.unknown.mlps_level", min=lo, min_zh=ZH_NUM.get(lo, lo)), "mlps_level")
        if isinstance(lvl, int) and lvl < lo:
            return _na(False, msg("assess.na.mlps_level", min=lo, min_zh=ZH_NUM.get(lo, lo), level=lvl,
                                  level_zh=ZH_NUM.get(lvl, lvl)), "mlps_level")
    return None


def _appl_etsi_conditions(item: dict, profile: dict | None):
    """EN 303 645: the Table B.1 condition / feature of the provision, as the profile states it."""
    det = item.get("status_detail") or {}
    conds = [str(c) for c in det.get("conditions", [])] + list(det.get("features", []))
    unknown = None
    cat = frameworks.catalogue("en303645")
    for c in conds:
        val = F.ETSI_CONDITIONS.get(c, lambda p: None)(profile)
        text = cat["conditions"].get(c) or cat["features"].get(c)
        if val is False:
            return _na(False, Text(en=f"condition not met: {text['en']} (per the profile)",
                                   zh=f"适用条件不成立：{text['zh']}（依据档案）"), F.CONDITION_FIELDS.get(c), "feature")
        if val is None and unknown is None:
            unknown = (Text(en=f"applies only if: {text['en']} - not stated in the profile",
                            zh=f"仅在以下情况适用：{text['zh']}——档案未说明"), F.CONDITION_FIELDS.get(c))
    if unknown:
        return _na(None, unknown[0], unknown[1], "feature")
    return None


def _appl_en18031_parts(item: dict, profile: dict | None):
    """EN 18031: radio equipment only, and only the parts (-1/-2/-3) the product's functions call for."""
    radio = get(profile, "product.radio_equipment")
    if radio is False:
        return _na(False, msg("assess.na.no_radio"))
    parts = [F.EN18031_PARTS[p](profile) for p in item.get("parts", [])]
    if parts and all(x is False for x in parts):
        return _na(False, msg("assess.na.en18031_parts", parts=", ".join("EN 18031-" + p for p in item["parts"])))
    if radio is None:
        return _na(None, msg("assess.unknown.radio"), "product.radio_equipment")
    if not any(x is True for x in parts):
        return _na(None, msg("assess.unknown.en18031_parts", parts=", ".join(item["parts"])),
                   F.EN18031_PART_FIELDS[item["parts"][0]])
    return None


# the applicability hooks a framework names in frameworks/registry.yaml (`applicability:`): each
# returns _na(...) when it decides, None to let the rules decide
APPLICABILITY = {
    "mlps_level": _appl_mlps_level,
    "etsi_conditions": _appl_etsi_conditions,
    "en18031_parts": _appl_en18031_parts,
}


def decide_applicability(item: dict, fw: str, rule: dict, profile: dict | None) -> tuple[bool | None, Text | None, str | None, str | None]:
    """(applies, reason when not / unknown, profile field to ask, kind of the decision).

    kind: "scope" (the profile's scope decides, whatever the firmware shows), "feature" (a feature the
    profile says is absent: a finding showing it exists overrules), "readiness" (an event-triggered duty
    not triggered yet), None (applies)."""
    if item.get("status") == "informational" or rule.get("na"):
        key = rule.get("na", "informational")
        return _na(False, msg(f"assess.na.{key}"))
    hook = registry.current().framework(fw).applicability
    if hook:
        decided = APPLICABILITY[hook](item, profile)
        if decided is not None:
            return decided
    pred = rule.get("applies")
    if pred:
        val = F.PREDICATES[pred](profile)
        if pred == "declared" and (get(profile, "declarations") or {}).get(item["ref"]) is not None:
            val = True
        if val is None and pred in OPTIONAL_PREDICATES:
            val = False  # an optional provision applies only when the maker opts in
        kind = "feature" if pred in FEATURE_PREDICATES else "scope"
        if val is False:
            return _na(False, msg(f"assess.na.pred.{pred}"), F.PREDICATE_FIELDS.get(pred), kind)
        if val is None:
            return _na(None, msg(f"assess.na.pred.{pred}"), F.PREDICATE_FIELDS.get(pred), kind)
    trig = rule.get("trigger")
    if trig and not _triggered(trig, profile):
        return _na(None, msg(f"assess.trigger.{trig}"), None, "readiness")
    return True, None, None, None


def _triggered(trigger: str, profile: dict | None) -> bool:
    """Has the profile recorded the event that starts an event-triggered duty?"""
    kinds = {str(i.get("kind")) for i in (get(profile, "incidents") or []) if isinstance(i, dict)}
    if trigger == "exploited":
        return "vulnerability" in kinds
    if trigger == "incident":
        return "incident" in kinds
    if trigger == "any_incident":
        return bool(kinds)
    return False  # events the profile cannot record yet (non-conformity, authority request, cessation)
