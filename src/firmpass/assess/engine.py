"""The assessment engine: one verdict per provision of every framework the chosen markets need.

Markets -> frameworks (regulations.md sections 1-7):
  eu: cra (Regulation (EU) 2024/2847), en18031 (RED delegated act 2022/30, radio equipment only),
      en303645 (the consumer-IoT baseline the CRA/RED work builds on)
  uk: psti (PSTI Regulations 2023 Schedule 1), en303645 (Schedule 2 deemed compliance)
  us: nistir8425 (the Cyber Trust Mark baseline)
  cn: mlps (GB/T 22239-2019: applies to operators' systems; device makers meet it through them)

Evidence per provision (issue 13: "met" needs positive evidence for that provision):
  firmware  findings whose `provisions` name the provision (V2/V3 variants of one EN 303 645 provision
            alike), findings of the checks a rule lists (`checks:`), and - unless the rule says `fw: false`
            - findings on an EN 303 645 provision the cross-walk links to it.  A finding that names the
            provision is never discarded: `fw: false` only drops cross-walk links and firmware-clean
            evidence.  Severity critical/high/medium -> bad, low -> partial, info -> cited only.
            Positive firmware evidence: a check whose own provisions name this provision (or that the
            rule lists) ran with no finding on material that exists in the image (MATERIAL below), or a
            fact read from the scan (sbom, kev, known_vulns, secure_boot, hardening).  A check that ran
            for a cross-walk neighbour proves nothing here.
  facts     functions over the scan result (SBOM components, KEV, secure boot, hardening ...) or the profile.
  answers   profile fields (rules.yaml).  documents: profile `documents`.  declarations: profile
            `declarations[ref]` (the maker's own statement with its evidence).
  A "met" resting on profile answers / documents / declarations only has basis "declared" and carries the
  qualifier "declared, not verified by firmware" (verdict `basis`, `qualifier`, and the reason text).
  A scan that did not understand the image (no file unpacked or no component identified) gives
  "needs evidence", never "met", for firmware-dependent provisions.

Applicability comes before findings: the profile's scope (EN 18031 part, MLPS level, toy, payments,
component, optional provisions the maker did not opt in to, informational items) makes a provision not
applicable whatever the firmware shows; a feature condition (EN 303 645 Table B.1 condition, pre-installed
passwords, sensors) is overruled by a finding that shows the feature exists.  Event-triggered duties (CRA
Art. 13(21)-(23), Art. 14) are readiness items - "needs evidence: have a procedure ready" - until the
profile records the triggering event.

Verdict (documented rule, applied in this order):
  not_applicable  the provision's scope / condition / feature is absent per the profile, or it binds
                  nobody (informational) - with the reason (`applicability`);
  not_met         a firmware finding (medium or worse) concerns it, or evidence is bad and none is good;
  partly_met      some evidence good and some bad (or partial);
  needs_evidence  nothing bad, but an answer, document or condition is missing, the image was not
                  understood, or an event-triggered duty has not been triggered;
  met             all evidence good.
Parents are derived from their children (NIST IR 8425 outcome <- sub-outcomes, PSTI paragraph <- its
sub-paragraphs, CRA Annex I Part I(1) <- Part I(2)(a)-(m)): a parent is never better than its children.
Readiness score per market = (met + 0.5 * partly_met) / (applicable verdicts), not_applicable excluded;
needs_evidence counts as not yet met.  `mandatory_not_met` lists binding provisions only: EN 303 645
recommendations (base status R, also when conditional) never appear in it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from firmpass import __version__, frameworks
from firmpass.frameworks import registry
from firmpass.assess import facts as F
from firmpass.assess import postmarket
from firmpass.assess.answers import eval_answer, eval_doc
from firmpass.assess.applicability import (APPLICABILITY, FEATURE_PREDICATES, OPTIONAL_PREDICATES,  # noqa: F401 - re-exported
                                           decide_applicability, mlps_min_level)
from firmpass.assess.facts import BAD, NA, OK, PARTIAL, UNKNOWN, Aspect, join_texts
from firmpass.assess.firmware import FIRMWARE_FACTS, check_provisions, file_paths, firmware_aspect, understood
from firmpass.assess.parents import derive_parents
from firmpass.assess.refs import cite_all, direct_refs, etsi_cite, evidence_refs, rules  # noqa: F401 - re-exported
from firmpass.assess.summary import classification, divergences, framework_entry, summary
from firmpass.i18n import msg
from firmpass.i18n import terms
from firmpass.model import ASSESSMENT_SCHEMA_VERSION, Finding, ScanResult, Text
from firmpass.profile import get


# ------------------------------------------------------------------ one verdict
def assess_item(item: dict, fw: str, result: ScanResult, profile: dict | None, ctx: dict) -> dict[str, Any]:
    """One provision's verdict: its applicability first, then the firmware's findings, the rule's facts,
    answers and documents, and the maker's declaration (the rules: this module's docstring)."""
    ref = item["ref"]
    rule = rules().get(ref, {})
    use_links = rule.get("fw", True)
    applies, why, qfield, kind = decide_applicability(item, fw, rule, profile)
    appl = {"applies": applies if kind != "readiness" else "readiness", "kind": kind,
            "reason": why.model_dump() if isinstance(why, Text) else None}
    if applies is False and kind == "scope":  # the profile's scope decides before any finding
        return _verdict(item, fw, "not_applicable", why, [], [], msg("assess.next.not_applicable"), [], ctx,
                        appl=appl, basis="profile")

    hits, fw_bad, fw_aspect = firmware_aspect(ref, rule, use_links, result, ctx)
    finding_ids = [f.id for f in hits]
    if applies is False and not fw_bad:
        return _verdict(item, fw, "not_applicable", why, finding_ids, [], msg("assess.next.not_applicable"), [], ctx,
                        appl=appl, basis="profile")
    if applies is False:  # a finding shows the feature the profile calls absent
        appl = {**appl, "applies": True, "overruled_by": [f.id for f in fw_bad]}

    aspects = ([fw_aspect] if fw_aspect is not None else []) + _rule_aspects(rule, result, profile)
    decl = _declaration(ref, profile)
    if decl is not None:
        v, ev, ans = decl
        if v == "not_applicable" and not fw_bad:
            return _verdict(item, fw, "not_applicable", msg("assess.decl.na", why=ev), finding_ids, ans,
                            msg("assess.next.not_applicable"), [], ctx, appl={**appl, "applies": False, "kind": "declared"},
                            basis="declared")
        st = {"met": OK, "partly_met": PARTIAL, "not_met": BAD}.get(v, UNKNOWN)
        aspects.append(Aspect(st, msg("assess.decl", verdict=terms.value(v), evidence=ev), answers=ans))

    aspects = [a for a in aspects if a.state != NA]
    answers = [x for a in aspects for x in a.answers]
    questions = [a.question for a in aspects if a.state == UNKNOWN and a.question]
    verdict = _decide(aspects, bool(fw_bad), kind, applies, qfield, ref, questions)
    fw_dependent = use_links or any(x in FIRMWARE_FACTS for x in rule.get("facts", []))
    verdict, reason, basis = _reasoned(verdict, aspects, why if applies is None else None, fw_dependent,
                                       ctx["understood"])
    if kind == "readiness" and verdict == "needs_evidence":
        nxt = msg("assess.next.readiness")
    else:
        nxt = _next_step(verdict, fw_bad, aspects, questions, item)
    return _verdict(item, fw, verdict, reason, finding_ids, answers, nxt, questions, ctx, appl=appl, basis=basis)


def _rule_aspects(rule: dict, result: ScanResult, profile: dict | None) -> list[Aspect]:
    """The aspects the rule names: facts (read from the scan or the profile), profile answers, documents."""
    aspects = []
    for name in rule.get("facts", []):
        a = F.FACTS[name](result, profile)
        if name in FIRMWARE_FACTS:
            a.source = "firmware"
        aspects.append(a)
    aspects += [eval_answer(expr, profile) for expr in rule.get("answers", [])]
    aspects += [eval_doc(d, profile) for d in rule.get("docs", [])]
    return aspects


def _declaration(ref: str, profile: dict | None) -> tuple[str, str, list[dict]] | None:
    """The maker's declaration on the provision (profile `declarations[ref]`): its verdict, its evidence and
    the profile answer that cites it; None when the profile declares nothing on it."""
    decl = (get(profile, "declarations") or {}).get(ref)
    if not isinstance(decl, dict):
        return None
    ev = decl.get("evidence") or decl.get("justification") or ""
    return decl["verdict"], ev, [{"field": f"declarations.{ref}", "value": decl}]


def _reasoned(verdict: str, aspects: list[Aspect], intro: Text | None, fw_dependent: bool,
              und: dict[str, Any]) -> tuple[str, Text, str]:
    """The final verdict, its reason and its basis.  An image the scan did not understand proves nothing
    either way for firmware-dependent provisions (met -> needs evidence); a "met" on declarations only
    says so; `intro` (why applicability is unknown) comes first."""
    reason_parts = [a.text for a in aspects if verdict != "met" or a.state == OK]
    if intro is not None:
        reason_parts.insert(0, intro)
    if fw_dependent and not und["ok"] and verdict in ("met", "needs_evidence"):
        verdict = "needs_evidence"
        reason_parts.insert(0, msg("assess.understood.no", files=und["files"], components=und["components"]))
    basis = _basis(aspects if verdict != "needs_evidence" else [a for a in aspects if a.state != UNKNOWN])
    if verdict == "met" and basis == "declared":
        reason_parts.append(msg("assess.basis.declared_note"))
    if not reason_parts:
        reason_parts = [msg("assess.reason.no_evidence")]
    return verdict, join_texts(reason_parts[:9]), basis


def _decide(aspects: list[Aspect], fw_bad: bool, kind: str, applies: bool | None, qfield: str | None, ref: str,
            questions: list[str]) -> str:
    """The verdict from the aspects (and the questions it leaves open, appended to `questions`)."""
    states = {a.state for a in aspects}
    if fw_bad:
        return "not_met"
    if kind == "readiness":  # nothing has triggered the duty: readiness, never "not met" or "met"
        return "needs_evidence"
    if applies is None and not (states & {BAD, PARTIAL}):
        if qfield:
            questions.insert(0, qfield)
        return "needs_evidence"
    if BAD in states:
        strong = {a.state for a in aspects if not a.weak}
        return "partly_met" if strong & {OK, PARTIAL} else "not_met"
    if PARTIAL in states:
        return "partly_met"
    if not aspects or UNKNOWN in states:
        if not aspects or all(a.state == UNKNOWN and not a.question for a in aspects):
            questions.append(f"declarations.{ref}")
        return "needs_evidence"
    return "met"


def _basis(aspects: list[Aspect]) -> str:
    """firmware / declared / firmware+declared / none: where the evidence that decided came from."""
    srcs = {a.source for a in aspects if a.state in (OK, PARTIAL, BAD)}
    if any(a.findings for a in aspects):
        srcs.add("firmware")
    if srcs == {"firmware"}:
        return "firmware"
    if srcs == {"profile"}:
        return "declared"
    if srcs:
        return "firmware+declared"
    return "none"


def _next_step(verdict: str, fw_bad: list[Finding], aspects: list[Aspect], questions: list[str], item: dict) -> Text:
    """What to do next: fix the worst finding, the bad aspects, or answer the open questions."""
    if fw_bad:
        f = fw_bad[0]
        more = len(fw_bad) - 1
        extra = msg("assess.next.more_findings", n=more) if more else Text(en="", zh="")
        return Text(en=f"Fix {f.id}: {f.remediation.en}{extra.en}", zh=f"修复 {f.id}：{f.remediation.zh}{extra.zh}")
    if verdict in ("not_met", "partly_met"):
        bad = [a for a in aspects if a.state in (BAD, PARTIAL)]
        return join_texts([msg("assess.next.fix")] + [a.text for a in bad[:3]])
    if verdict == "needs_evidence":
        if questions:
            qs = [question_text(q, item) for q in dict.fromkeys(questions)]
            return join_texts([msg("assess.next.answer")] + qs[:3])
        return msg("assess.next.evidence")
    return msg("assess.next.keep")


def question_text(field: str, item: dict | None = None) -> Text:
    """The question a profile field (a declaration, a document, an answer) asks, in both languages."""
    if field.startswith("declarations."):
        ref = field.split(".", 1)[1]
        it = frameworks.get(ref) or item or {"title": {"en": ref, "zh": ref}}
        return msg("assess.q.declaration", ref=ref, title_en=it["title"]["en"], title_zh=it["title"]["zh"])
    if field.startswith("documents."):
        name = msg(f"profile.doc.{field.split('.', 1)[1]}")
        return msg("assess.q.document", en_name=name.en, zh_name=name.zh)
    key = f"profile.q.{field}"
    try:
        return msg(key)
    except KeyError:
        return msg("assess.q.field", field=field)


def binding(item: dict) -> str:
    """mandatory / recommended / informational: EN 303 645 by the base status of Table B.1 (M or R, also
    when conditional), the other frameworks by their status (conditional = mandatory when it applies)."""
    if item.get("status") == "informational":
        return "informational"
    base = (item.get("status_detail") or {}).get("base") if isinstance(item.get("status_detail"), dict) else None
    if base in ("mandatory", "recommended"):
        return base
    return "recommended" if item.get("status") == "recommended" else "mandatory"


def _verdict(item, fw, verdict, reason, finding_ids, answers, nxt, questions, ctx, appl=None, basis="none") -> dict[str, Any]:
    """The verdict record as assessment.json writes it (model.Verdict)."""
    markets = [m for m in ctx["markets"] if fw in ctx["market_frameworks"][m]]
    declared = verdict == "met" and basis == "declared"
    version = ctx.get("version")
    return {
        "ref": item["ref"], "framework": fw, "id": item["id"],
        "title": item["title"], "group": item.get("group"),
        "status": item.get("status"), "status_detail": (item.get("status_detail") or {}).get("raw"),
        "verdict": verdict,
        "reason": reason.model_dump() if isinstance(reason, Text) else reason,
        "findings": sorted(dict.fromkeys(finding_ids)),
        "profile_answers": _dedup_answers(answers),
        "next_step": nxt.model_dump(),
        "uncertain": bool(item.get("uncertain")),
        "uncertainty": item.get("uncertainty"),
        "markets": markets,
        "crosswalk": cite_all(item.get("crosswalk", []), version) if version else item.get("crosswalk", []),
        "questions": list(dict.fromkeys(questions)),
        # issue 13 additions (existing keys above unchanged)
        "binding": binding(item),
        "basis": basis,
        "declared": declared,
        "qualifier": msg("assess.basis.declared").model_dump() if declared else None,
        "applicability": appl or {"applies": True, "kind": None, "reason": None},
        "derived_from": [],
    }


def _dedup_answers(answers: list[dict]) -> list[dict]:
    """The profile answers cited, each field once."""
    seen, out = set(), []
    for a in answers:
        k = a["field"]
        if k not in seen:
            seen.add(k)
            out.append(a)
    return out


# ------------------------------------------------------------------ whole assessment
def assess(result: ScanResult, profile: dict | None = None, markets: list[str] | None = None,
           profile_path: str | Path | None = None, profile_sha256: str | None = None,
           en303645_version: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """assessment.json for a scan result and a profile: a verdict per provision of the markets' frameworks,
    the per-market summary, the open questions, divergences and post-market duties."""
    by_market = registry.market_frameworks()
    markets = [m for m in (markets or get(profile, "markets") or list(by_market)) if m in by_market]
    version = en303645_version or get(profile, "en303645_version") or frameworks.catalogue("en303645")["default_version"]
    fws = [fw for fw in registry.framework_ids() if any(fw in by_market[m] for m in markets)]
    und = understood(result)
    ctx = {"markets": markets, "checks": check_provisions(result), "understood": und, "paths": file_paths(result),
           "version": version, "market_frameworks": by_market}

    verdicts = []
    for fw in fws:
        for item in frameworks.items(fw, version if fw == "en303645" else None):
            verdicts.append(assess_item(item, fw, result, profile, ctx))
    derive_parents(verdicts)

    questions: dict[str, dict] = {}
    for v in verdicts:
        if v["verdict"] != "needs_evidence":
            continue
        for q in v["questions"]:
            entry = questions.setdefault(q, {"field": q, "question": question_text(q, frameworks.get(v["ref"])).model_dump(),
                                             "refs": []})
            entry["refs"].append(v["ref"])

    return {
        "schema_version": ASSESSMENT_SCHEMA_VERSION,
        "tool": {"name": "firmpass", "version": __version__},
        "generated": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "image": {"name": result.image.name, "sha256": result.image.sha256},
        "profile": {"path": str(profile_path) if profile_path else None,
                    "abs_path": str(Path(profile_path).resolve()) if profile_path else None, "sha256": profile_sha256},
        "markets": markets,
        "frameworks": [framework_entry(fw, version, markets, profile) for fw in fws],
        "classification": classification(profile),
        "verdicts": verdicts,
        "summary": summary(verdicts, markets),
        "questions": list(questions.values()),
        "divergences": divergences(fws, profile),
        "post_market": {"cra_article14": postmarket.article14(result, profile, now),
                        "support_period": postmarket.support_period_check(profile)},
        "method": {"score": msg("assess.method.score").model_dump(), "verdicts": msg("assess.method.verdicts").model_dump(),
                   "markets": by_market,
                   "evidence": msg("assess.method.evidence").model_dump()},
        # issue 13 additions
        "scan_understood": und,
        "citations": {"en303645_version": version,
                      "findings": {f.id: cite_all(f.provisions, version) for f in result.findings}},
    }
