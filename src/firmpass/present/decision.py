"""The decision the report's first page gives: per market, can the product ship, under which rule
(its legal status and the date it applies), what blocks it, and what to fix first.

The legal facts live in legal.yaml next to this file (one place for every date and status); the
verdicts come from assessment.json.  Only mandatory provisions of a rule that binds the product are
blockers: recommendations never are, a voluntary label (US Cyber Trust Mark) never blocks shipping,
and MLPS binds the operator's classified system, so its gaps are what customers will ask for, not a
bar to selling.  Blockers are grouped into root causes: one finding's check (CRED-001 closes every
provision its findings name) or one profile answer closes several provisions at once.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from firmpass.frameworks.registry import market_label
from firmpass.i18n.terms import term, value
from firmpass.model import SEVERITY_ORDER, ScanResult, Text
from firmpass.present.i18n import as_text, t

OPEN = ("not_met", "partly_met", "needs_evidence")
BLOCKING_STATUS = ("mandatory", "conditional")  # conditional = mandatory once its condition holds (it was assessed as applying)


@lru_cache(maxsize=None)
def legal() -> dict[str, Any]:
    return yaml.safe_load(resources.files(__package__).joinpath("legal.yaml").read_text(encoding="utf-8"))


def _date(x: Any) -> dt.date | None:
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    try:
        return dt.date.fromisoformat(str(x)[:10])
    except ValueError:
        return None


def _get(d: Any, path: str) -> Any:
    cur = d
    for p in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def rule_dates(rule: dict, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for d in rule.get("dates") or []:
        day = _date(d["date"])
        out.append({"date": day.isoformat(), "scope": d.get("scope", "main"), "what": as_text(d.get("what")),
                    "in_force": day <= today})
    return out


def main_date(rule: dict) -> str | None:
    """The date the rule's main obligations apply (remediation plan due dates)."""
    for d in rule.get("dates") or []:
        if d.get("scope") == "main":
            return _date(d["date"]).isoformat()
    return None


def framework_due(framework: str, ref_id: str = "") -> str:
    """The legal date a provision of this framework must be met by ('' for voluntary or operator rules)."""
    for m in legal()["markets"].values():
        for r in m["rules"]:
            if framework in (r.get("binding_frameworks") or r["frameworks"]) and r["binds"] == "product":
                if framework == "cra" and ref_id.startswith("Art14"):
                    for d in r["dates"]:
                        if d.get("scope") == "reporting":
                            return _date(d["date"]).isoformat()
                return main_date(r) or ""
    return ""


def cra_route(assessment: dict | None, profile: dict | None) -> dict[str, Any]:
    """CRA class (declared vs derived) and the conformity route that follows, with the notified-body flag.
    Class I may use internal control (module A) only with a standard harmonised under the CRA (or a
    common specification / EU certification) applied in full; the profile's standards_applied says which."""
    cls = (assessment or {}).get("classification") if isinstance((assessment or {}).get("classification"), dict) else {}
    declared = cls.get("declared") or _get(profile, "cra_class")
    derived = cls.get("derived")
    effective = derived if derived in ("important-I", "important-II", "critical") and declared in (None, "default") else (declared or derived)
    applied = standards_applied(profile)
    cra_full = [s for s in applied if s["regulation"] == "cra" and s["full"]]
    if effective in ("important-II", "critical"):
        route, nb = "B+C / H", True
    elif effective == "important-I":
        route, nb = ("A", False) if cra_full else ("B+C / H", True)
    elif effective == "default":
        route, nb = "A", False
    else:
        route, nb = "", None
    declared_route = _get(profile, "conformity.route") or ""
    conflict = bool(declared_route and route and declared_route == "A" and nb)
    return {"declared": declared or "", "derived": derived or "", "effective": effective or "",
            "agrees": cls.get("agrees"), "annex_point": cls.get("annex_point") or "",
            "class_label": value(effective) if effective else Text(en="", zh=""),
            "route": route, "route_label": _route_label(route), "notified_body": nb,
            "declared_route": declared_route, "route_conflict": conflict,
            "notified_body_named": _get(profile, "conformity.notified_body") or "",
            "harmonised_cra": [s["standard"] for s in cra_full]}


def _route_label(route: str) -> Text:
    if route == "A":
        return term("module_a")
    if route:
        bc, h = term("module_bc"), term("module_h")
        return Text(en=f"{bc.en}, or {h.en}", zh=f"{bc.zh}，或{h.zh}")
    return Text(en="", zh="")


def standards_applied(profile: dict | None) -> list[dict[str, Any]]:
    out = []
    for s in _get(profile, "standards_applied") or []:
        if isinstance(s, str) and s.strip():
            out.append({"standard": s.strip(), "regulation": "", "full": None})
        elif isinstance(s, dict) and s.get("standard"):
            out.append({"standard": str(s["standard"]), "regulation": str(s.get("regulation") or ""),
                        "full": s.get("full") if isinstance(s.get("full"), bool) else None})
    return out


def _root_key(v: dict, finding_check: dict[str, str]) -> tuple[str, str]:
    fids = [str(f) for f in v.get("findings") or []]
    checks = sorted({finding_check[f] for f in fids if f in finding_check})
    if checks:
        return "check", checks[0]
    answers = [a for a in v.get("profile_answers") or [] if isinstance(a, dict) and a.get("field")]
    if answers:
        return "profile", str(answers[0]["field"])
    qs = [str(q) for q in v.get("questions") or []]
    if qs:
        return "question", qs[0]
    return "provision", str(v.get("ref"))


def build_decision(result: ScanResult, assessment: dict | None, profile: dict | None,
                   today: dt.date | None = None) -> dict[str, Any]:
    """Per market: ship, fix or blocked, rule by rule; the root causes behind the open mandatory
    verdicts, most urgent first; the CRA route and the Art. 14 readiness."""
    if not assessment:
        return {"markets": [], "root_causes": [], "fix_first": [], "cra": cra_route(None, profile), "art14": None}
    today = today or _date(assessment.get("generated")) or dt.date.today()
    verdicts = [v for v in assessment.get("verdicts") or [] if isinstance(v, dict)]
    findings = {f.id: f for f in result.findings}
    finding_check = {f.id: f.check for f in result.findings}
    markets_wanted = [str(m) for m in assessment.get("markets") or []]
    radio = _get(profile, "product.radio_equipment")

    markets = []
    blockers_all: dict[tuple[str, str], dict[str, Any]] = {}
    for mid in ("eu", "uk", "us", "cn"):
        if mid not in markets_wanted:
            continue
        rules = [_rule_row(rule, mid, verdicts, today, finding_check, blockers_all)
                 for rule in legal()["markets"][mid]["rules"]
                 if not (rule.get("applies_if") and _get(profile, rule["applies_if"]) is False)]
        state = max(["ship"] + [r["state"] for r in rules], key=_STATES.index)
        if mid == "eu" and radio is None:
            state = max(state, "fix", key=_STATES.index)
        markets.append({"id": mid, "label": market_label(mid), "state": state, "state_label": t(f"decision.state.{state}"),
                        "rules": rules, "line": _market_line(mid, state, rules)})

    roots = [_root_cause(kind, key, rc, findings) for (kind, key), rc in blockers_all.items()]
    roots.sort(key=lambda r: (0 if r["in_force"] else 1, 0 if r["not_met"] else 1,
                              SEVERITY_ORDER.get(r["severity"], 9), -r["n"], r["key"]))
    for i, r in enumerate(roots, 1):
        r["priority"] = i
    return {"today": today.isoformat(), "markets": markets, "root_causes": roots, "fix_first": roots[:5],
            "cra": cra_route(assessment, profile), "art14": art14_readiness(assessment, profile, today)}


_STATES = ["ship", "fix", "blocked"]  # a market's state is the worst of its rules'


def _rule_row(rule: dict, mid: str, verdicts: list[dict], today: dt.date, finding_check: dict[str, str],
              blockers_all: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """One legal rule of market MID: its dates and state from the open mandatory verdicts of its
    frameworks; a rule that binds the product records those verdicts' root causes in BLOCKERS_ALL."""
    dates = rule_dates(rule, today)
    fws = rule.get("binding_frameworks") or rule["frameworks"]
    vs = [v for v in verdicts if v.get("framework") in fws and mid in (v.get("markets") or [mid])]
    mandatory_open = [v for v in vs if v.get("status") in BLOCKING_STATUS and v.get("verdict") in OPEN]
    not_met = [v for v in mandatory_open if v.get("verdict") == "not_met"]
    evidence = [v for v in mandatory_open if v.get("verdict") != "not_met"]
    in_force = any(d["in_force"] and d["scope"] == "main" for d in dates)
    binds = rule["binds"]
    rstate = "ship"
    if binds == "product":
        if not_met and in_force:
            rstate = "blocked"
        elif not_met or evidence:
            rstate = "fix"
        _add_blockers(blockers_all, mandatory_open, mid, in_force, finding_check)
    return {"id": rule["id"], "name": as_text(rule["name"]), "short": as_text(rule.get("short") or rule["name"]),
            "binds": binds, "binds_label": t(f"decision.binds.{binds}"), "dates": dates, "in_force": in_force,
            "state": rstate, "not_met": len(not_met), "evidence": len(evidence),
            "blockers": sorted({str(v.get("ref")) for v in not_met})}


def _add_blockers(blockers_all: dict[tuple[str, str], dict[str, Any]], mandatory_open: list[dict], mid: str,
                  in_force: bool, finding_check: dict[str, str]) -> None:
    """Group the open mandatory verdicts of market MID by root cause (a check, a profile field, a question ...)."""
    for v in mandatory_open:
        key = _root_key(v, finding_check)
        rc = blockers_all.setdefault(key, {"kind": key[0], "key": key[1], "refs": [], "markets": set(),
                                           "in_force": False, "not_met": False, "findings": set()})
        rc["refs"].append(str(v.get("ref")))
        rc["markets"].add(mid)
        rc["in_force"] = rc["in_force"] or (in_force and v.get("verdict") == "not_met")
        rc["not_met"] = rc["not_met"] or v.get("verdict") == "not_met"
        rc["findings"].update(str(f) for f in v.get("findings") or [])
        rc.setdefault("verdict_example", v)


def _root_cause(kind: str, key: str, rc: dict[str, Any], findings: dict[str, Any]) -> dict[str, Any]:
    """One root cause as the report shows it: the worst finding of a check (its title and fix), else
    what the verdict or the missing profile field / answer says."""
    sev, title, fix = 9, None, None
    fids = sorted(rc["findings"])
    if kind == "check":
        fs = [findings[f] for f in fids if f in findings and findings[f].check == key]
        if fs:
            worst = min(fs, key=lambda f: SEVERITY_ORDER.get(f.severity, 9))
            sev, title, fix = SEVERITY_ORDER.get(worst.severity, 9), worst.title, worst.remediation
        fids = [f.id for f in fs]
    if title is None:
        v = rc["verdict_example"]
        if kind == "profile":
            title = t("decision.root.profile", field=key)
        elif kind == "question":
            title = t("decision.root.question", field=key)
        else:
            title = as_text(v.get("title"))
        fix = as_text(v.get("next_step"))
    refs = sorted(set(rc["refs"]))
    return {"kind": kind, "key": key, "title": as_text(title), "fix": as_text(fix),
            "severity": [s for s, o in SEVERITY_ORDER.items() if o == sev][0] if sev != 9 else "",
            "refs": refs, "n": len(refs), "markets": sorted(rc["markets"], key=["eu", "uk", "us", "cn"].index),
            "in_force": rc["in_force"], "not_met": rc["not_met"], "findings": fids}


def _market_line(mid: str, state: str, rules: list[dict]) -> Text:
    binds = {r["binds"] for r in rules}
    if binds == {"voluntary"}:
        return t("decision.line.voluntary")
    if binds == {"operator"}:
        return t("decision.line.operator")
    n = sum(r["not_met"] for r in rules if r["binds"] == "product")
    e = sum(r["evidence"] for r in rules if r["binds"] == "product")
    if state == "blocked" and not e:
        return t("decision.line.blocked_only", n=n)
    return t(f"decision.line.{state}", n=n, e=e)


def art14_readiness(assessment: dict, profile: dict | None, today: dt.date) -> dict[str, Any]:
    """CRA Art. 14 is an event-triggered duty: readiness means a reporting procedure and a contact in
    place before anything happens; overdue items are profile incidents (or exploited CVEs) past a deadline."""
    pm = ((assessment.get("post_market") or {}).get("cra_article14") or {}) if isinstance(assessment.get("post_market"), dict) else {}
    items = [i for i in pm.get("items") or [] if isinstance(i, dict)]
    applies = str(pm.get("applies_from") or legal_date("eu", "cra", "reporting") or "")
    start = _date(applies)

    def passed_under_art14(i: dict) -> bool:  # a deadline that passed while Art. 14 already applied
        dl = i.get("deadlines") or {}
        return any(s == "passed" and start and _date(dl.get(k)) and _date(dl.get(k)) >= start
                   for k, s in (i.get("status") or {}).items())

    overdue = [i for i in items if passed_under_art14(i)]
    plan = _get(profile, "documents.incident_response_plan")
    contact = _get(profile, "vulnerability_disclosure.contact_email") or _get(profile, "vulnerability_disclosure.contact_url")
    ready = bool(plan) and bool(contact) and not overdue
    return {"applies_from": applies, "in_force": bool(applies) and _date(applies) <= today,
            "procedure": bool(plan), "contact": bool(contact), "incidents": len(items), "overdue": len(overdue),
            "ready": ready, "label": t("decision.art14.ready" if ready else "decision.art14.not_ready")}


def legal_date(market: str, rule_id: str, scope: str = "main") -> str | None:
    for r in legal()["markets"][market]["rules"]:
        if r["id"] == rule_id:
            for d in r.get("dates") or []:
                if d.get("scope") == scope:
                    return _date(d["date"]).isoformat()
    return None
