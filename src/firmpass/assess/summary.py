"""The parts of assessment.json beside the verdicts: the frameworks assessed, the readiness summary
per market, the CRA class, and where the frameworks diverge."""
from __future__ import annotations

from typing import Any

from firmpass import frameworks
from firmpass.assess.applicability import ZH_NUM
from firmpass.frameworks import registry
from firmpass.i18n import msg
from firmpass.profile import get

VERDICTS = ("met", "not_met", "partly_met", "needs_evidence", "not_applicable")


def framework_entry(fw: str, version: str, markets: list[str], profile: dict | None = None) -> dict[str, Any]:
    """One framework assessed: id, version, title (MLPS: with the protection level), markets, provisions."""
    cat = frameworks.catalogue(fw)
    v = version if fw == "en303645" else cat["default_version"]
    title = dict(cat["title"])
    out: dict[str, Any] = {}
    if fw == "mlps":  # the heading names the protection level of the operator's system (profile mlps_level)
        lvl = get(profile, "mlps_level")
        out["level"] = lvl
        t = msg("assess.mlps.level", level=lvl, level_zh=ZH_NUM.get(lvl, lvl)) if isinstance(lvl, int) \
            else msg("assess.mlps.level_unknown")
        title = {"en": f"{title['en']} - {t.en}", "zh": f"{title['zh']}——{t.zh}"}
    return {"id": fw, "version": v, "title": title, "uncertainty": cat.get("uncertainty"),
            "markets": [m for m in markets if fw in registry.market_frameworks()[m]],
            "provisions": len(frameworks.items(fw, version if fw == "en303645" else None)), **out}


def summary(verdicts: list[dict], markets: list[str]) -> dict[str, Any]:
    """Per market: the readiness score, the verdict counts, a label and what is not met."""
    out = {}
    for m in markets:
        vs = [v for v in verdicts if m in v["markets"]]
        counts = {k: sum(1 for v in vs if v["verdict"] == k) for k in VERDICTS}
        applicable = len(vs) - counts["not_applicable"]
        score = round((counts["met"] + 0.5 * counts["partly_met"]) / applicable, 3) if applicable else None
        if score is None:
            label = msg("assess.readiness.none")
        elif counts["not_met"] == 0 and counts["needs_evidence"] == 0 and counts["partly_met"] == 0:
            label = msg("assess.readiness.ready")
        elif counts["not_met"] == 0:
            label = msg("assess.readiness.evidence")
        else:
            label = msg("assess.readiness.gaps", n=counts["not_met"])
        out[m] = {"score": score, "counts": counts, "frameworks": registry.market_frameworks()[m], "label": label.model_dump(),
                  "mandatory_not_met": sorted(v["ref"] for v in vs if v["verdict"] == "not_met" and v["binding"] == "mandatory"),
                  "recommended_not_met": sorted(v["ref"] for v in vs if v["verdict"] == "not_met" and v["binding"] == "recommended"),
                  "declared_only": sum(1 for v in vs if v["declared"]),
                  "readiness_items": sorted(v["ref"] for v in vs if v["applicability"]["kind"] == "readiness"
                                            and v["verdict"] == "needs_evidence")}
    return out


def classification(profile: dict | None) -> dict[str, Any]:
    """The CRA class the profile declares beside the one its product category implies."""
    declared = get(profile, "cra_class")
    cat_id = get(profile, "product.cra_category")
    row = frameworks.cra_class_for(cat_id) if cat_id else None
    if row is None and get(profile, "product.category"):
        row = frameworks.guess_cra_category(get(profile, "product.category"))
    derived = row["class"] if row else None
    classes = frameworks.cra_classes()["classes"]
    cls = declared or derived
    out = {"declared": declared, "derived": derived, "category": row["id"] if row else None,
           "annex_point": row["annex"] if row else None,
           "conformity_route": classes[cls]["route"] if cls in classes else None,
           "agrees": None if not (declared and derived) else declared == derived}
    if out["agrees"] is False:
        out["note"] = msg("assess.class.disagree", declared=declared, derived=derived, point=row["annex"] or "-").model_dump()
    return out


DIVERGENCES = [
    ("auto_updates", ["cra:AnnexI.PartI.2.c", "en303645:5.3-4B", "en303645:5.3-6A"], {"cra", "en303645"}),
    ("support_length", ["cra:Art13.8", "en303645:5.3-13", "psti:PSTI-S1-3", "psti:PSTI-S1-3.a"], {"cra", "en303645", "psti"}),
    ("sbom", ["cra:AnnexI.PartII.1", "en303645:5.2-3", "nistir8425:8425-AI-2"], {"cra", "en303645", "nistir8425"}),
    ("known_vulns", ["cra:AnnexI.PartI.2.a", "en18031:GEC-1", "en303645:5.3-8"], {"cra", "en303645", "en18031"}),
    ("logging", ["cra:AnnexI.PartI.2.l", "en303645:5.10-1", "mlps:MLPS-CE-AU"], {"cra", "en303645", "mlps"}),
    ("passwords_scope", ["psti:PSTI-S1-1.x", "en303645:5.1-1", "en18031:AUM-5-1"], {"psti", "en303645", "en18031"}),
    ("mlps_scope", ["mlps:MLPS-CE-IA", "cra:AnnexI.PartI.2.d"], {"mlps", "cra"}),
]


def divergences(fws: list[str], profile: dict | None) -> list[dict[str, Any]]:
    """The topics on which two or more of the assessed frameworks ask different things."""
    out = []
    for key, refs, need in DIVERGENCES:
        present = need & set(fws)
        if len(present) < 2:
            continue
        d = {"id": key, "topic": msg(f"assess.div.{key}.topic").model_dump(),
             "refs": [r for r in refs if r.split(":")[0] in fws],
             "detail": msg(f"assess.div.{key}.detail").model_dump()}
        if key == "auto_updates" and get(profile, "updates.default_on") is not None:
            d["profile"] = {"updates.default_on": get(profile, "updates.default_on"),
                            "updates.user_consent_at_setup": get(profile, "updates.user_consent_at_setup")}
        out.append(d)
    return out
