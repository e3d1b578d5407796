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

import re
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

from firmpass import __version__, frameworks
from firmpass.frameworks import registry
from firmpass.assess import facts as F
from firmpass.assess import postmarket
from firmpass.assess.answers import eval_answer, eval_doc
from firmpass.assess.applicability import (APPLICABILITY, FEATURE_PREDICATES, OPTIONAL_PREDICATES,  # noqa: F401 - re-exported
                                           ZH_NUM, decide_applicability, mlps_min_level)
from firmpass.assess.facts import BAD, NA, OK, PARTIAL, UNKNOWN, Aspect
from firmpass.i18n import msg
from firmpass.i18n import terms
from firmpass.model import ASSESSMENT_SCHEMA_VERSION, Finding, ScanResult, Text
from firmpass.profile import get

# which frameworks each market needs and in which order: frameworks/registry.yaml (registry.*)
VERDICTS = ("met", "not_met", "partly_met", "needs_evidence", "not_applicable")
BAD_SEVERITIES = {"critical", "high", "medium"}


@lru_cache(maxsize=None)
def rules() -> dict[str, dict[str, Any]]:
    data = yaml.load(resources.files(__package__).joinpath("rules.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data["rules"]


# ------------------------------------------------------------------ evidence refs
_VARIANT = re.compile(r"^(.*\d)([AB])$")


def _etsi_variants(pid: str) -> set[str]:
    """V2/V3 forms of one EN 303 645 provision: 5.6-4 <-> 5.6-4A/5.6-4B, 4-1 <-> 5.0-1."""
    out = {pid}
    m = _VARIANT.match(pid)
    if m:
        out.add(m.group(1))
    else:
        out |= {pid + "A", pid + "B"}
    if pid in ("4-1", "5.0-1"):
        out |= {"4-1", "5.0-1"}
    return {f"en303645:{x}" for x in out}


@lru_cache(maxsize=None)
def _links() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Established cross-walk links only (the law or standard states them, e.g. PSTI Schedule 2 deeming
    EN 303 645 compliance): the reference's 'derived' links are its compilers' own reading and are not
    evidence - they made a command-injection finding fail MLPS anti-replay."""
    to_other: dict[str, set[str]] = {}
    established: dict[str, set[str]] = {}
    for l in frameworks.crosswalk()["links"]:
        if l["basis"] == "established":
            to_other.setdefault(l["to"], set()).add(l["from"])
            established.setdefault(l["from"], set()).add(l["to"])
    return to_other, established


def direct_refs(ref: str) -> set[str]:
    """The provision itself in every EN 303 645 version, plus the refs its rule names."""
    fw, pid = ref.split(":", 1)
    refs = {ref} | set(rules().get(ref, {}).get("refs", []))
    if fw == "en303645":
        refs |= _etsi_variants(pid)
    return refs


def evidence_refs(ref: str) -> set[str]:
    """direct_refs plus the provisions an established cross-walk link ties to it."""
    fw, pid = ref.split(":", 1)
    refs = direct_refs(ref)
    to_other, established = _links()
    if fw == "en303645":
        refs |= established.get(ref, set())
    else:
        for e in to_other.get(ref, set()):
            refs |= _etsi_variants(e.split(":", 1)[1])
    return refs


def _check_provisions(result: ScanResult) -> dict[str, list[str]]:
    """Check id -> provisions it serves, for the checks that ran."""
    ran = result.extra.get("checks_run") or []
    out: dict[str, list[str]] = {}
    registry: dict[str, list[str]] = {}
    try:  # the checks registry, when that stage is installed
        from firmpass.checks.registry import all_checks  # type: ignore

        registry = {c.id: list(c.provisions) for c in all_checks()}
    except Exception:  # noqa: BLE001 - optional stage
        registry = {}
    for entry in ran:
        if isinstance(entry, dict) and entry.get("id"):
            out[entry["id"]] = list(entry.get("provisions") or registry.get(entry["id"], []))
        elif isinstance(entry, str):
            out[entry] = registry.get(entry, [])
    # a check that produced findings also serves the provisions on them
    for f in result.findings:
        if f.check in out:
            out[f.check] = sorted(set(out[f.check]) | set(f.provisions))
    return out


# ------------------------------------------------------------------ material a check needs
# A check that ran with no finding is evidence only when what it inspects exists in the image: the
# checks stage records which checks ran, not what they had to look at, so the assessment asks the
# scan result itself (files, ELF summary, boot images, components).
def _paths(result: ScanResult) -> set[str]:
    return {f.path for f in result.files if f.type in ("file", "symlink", "hardlink")}


def _has(prefixes: tuple[str, ...]):
    return lambda r, paths: any(p.startswith(prefixes) for p in paths)


_INIT = ("/etc/inittab", "/etc/init.d/", "/etc/rc", "/etc/systemd/", "/lib/systemd/system/", "/usr/lib/systemd/system/",
         "/etc/inetd.conf", "/etc/xinetd", "/etc/runit", "/etc/sv/")
MATERIAL: dict[str, Any] = {
    "CRED-00": _has(("/etc/shadow", "/etc/passwd")),
    "CRED-006": lambda r, paths: bool(paths),
    "SVC-": _has(_INIT),
    "HARD-": lambda r, paths: bool((r.extra.get("hardening") or {}).get("elf_count")),
    "BOOT-": lambda r, paths: bool((r.extra.get("secure_boot") or {}).get("images")),
    "EOL-": lambda r, paths: bool(r.components),
    "UPD-001": lambda r, paths: bool(paths),
    # signature / transport / rollback checks look at an updater: without one, their silence proves nothing
    "UPD-00": lambda r, paths: bool(r.extra.get("checks_updates")),
}


def _had_material(check: str, result: ScanResult, paths: set[str]) -> bool:
    for prefix in sorted(MATERIAL, key=len, reverse=True):
        if check.startswith(prefix):
            return bool(MATERIAL[prefix](result, paths))
    return bool(paths)  # file-content checks (keys, secrets, updater scripts, logging, permissions)


def understood(result: ScanResult) -> dict[str, Any]:
    """Did the scan understand the image: files unpacked and components identified."""
    n_files = sum(1 for f in result.files if f.type == "file")
    n_comp = len(result.components)
    return {"ok": bool(n_files and n_comp), "files": n_files, "components": n_comp}


# ------------------------------------------------------------------ EN 303 645 V2 <-> V3 citations
def etsi_cite(ref: str, version: str) -> str | None:
    """A provision ref as the chosen EN 303 645 version numbers it (5.6-4 in V3 -> 5.6-4A; 5.6-4A in V2 ->
    5.6-4; 4-1 <-> 5.0-1); None for a provision the version does not have (6-8 in V2).  Other frameworks
    and provisions present in the version are unchanged."""
    if not ref.startswith("en303645:"):
        return ref
    present = {it["ref"] for it in frameworks.items("en303645", version)}
    if ref in present:
        return ref
    pid = ref.split(":", 1)[1]
    for cand in (pid + "A", pid[:-1] if _VARIANT.match(pid) else None, "5.0-1" if pid == "4-1" else None,
                 "4-1" if pid == "5.0-1" else None):
        if cand and f"en303645:{cand}" in present:
            return f"en303645:{cand}"
    return None


def cite_all(refs: Iterable[str], version: str) -> list[str]:
    return [r for r in dict.fromkeys(etsi_cite(r, version) for r in refs) if r]


# ------------------------------------------------------------------ one verdict
def _join(parts: Iterable[Text]) -> Text:
    ps = list(parts)
    return Text(en="; ".join(p.en for p in ps), zh="；".join(p.zh for p in ps))


FIRMWARE_FACTS = {"sbom", "kev", "known_vulns", "secure_boot", "hardening"}


def _finding_text(fs: list[Finding]) -> Text:
    return _join(msg("assess.fw.finding", id=f.id, severity=terms.severity(f.severity), title_en=f.title.en, title_zh=f.title.zh)
                 for f in fs[:5])


def assess_item(item: dict, fw: str, result: ScanResult, profile: dict | None, ctx: dict) -> dict[str, Any]:
    ref = item["ref"]
    rule = rules().get(ref, {})
    aspects: list[Aspect] = []
    questions: list[str] = []
    use_links = rule.get("fw", True)
    fw_dependent = use_links or any(x in FIRMWARE_FACTS for x in rule.get("facts", []))

    applies, why, qfield, kind = decide_applicability(item, fw, rule, profile)
    appl = {"applies": applies if kind != "readiness" else "readiness", "kind": kind,
            "reason": why.model_dump() if isinstance(why, Text) else None}
    if applies is False and kind == "scope":  # the profile's scope decides before any finding
        return _verdict(item, fw, "not_applicable", why, [], [], msg("assess.next.not_applicable"), [], ctx,
                        appl=appl, basis="profile")

    hits, fw_bad, fw_aspect = _firmware_aspect(ref, rule, use_links, result, ctx)
    finding_ids = [f.id for f in hits]
    if fw_aspect is not None:
        aspects.append(fw_aspect)

    if applies is False and not fw_bad:
        return _verdict(item, fw, "not_applicable", why, finding_ids, [], msg("assess.next.not_applicable"), [], ctx,
                        appl=appl, basis="profile")
    if applies is False:  # a finding shows the feature the profile calls absent
        appl = {**appl, "applies": True, "overruled_by": [f.id for f in fw_bad]}

    for name in rule.get("facts", []):
        a = F.FACTS[name](result, profile)
        if name in FIRMWARE_FACTS:
            a.source = "firmware"
        aspects.append(a)
    for expr in rule.get("answers", []):
        aspects.append(eval_answer(expr, profile))
    for d in rule.get("docs", []):
        aspects.append(eval_doc(d, profile))
    decl = (get(profile, "declarations") or {}).get(ref)
    if isinstance(decl, dict):
        v = decl["verdict"]
        ev = decl.get("evidence") or decl.get("justification") or ""
        ans = [{"field": f"declarations.{ref}", "value": decl}]
        if v == "not_applicable" and not fw_bad:
            return _verdict(item, fw, "not_applicable", msg("assess.decl.na", why=ev), finding_ids, ans,
                            msg("assess.next.not_applicable"), [], ctx, appl={**appl, "applies": False, "kind": "declared"},
                            basis="declared")
        st = {"met": OK, "partly_met": PARTIAL, "not_met": BAD}.get(v, UNKNOWN)
        aspects.append(Aspect(st, msg("assess.decl", verdict=terms.value(v), evidence=ev), answers=ans))

    aspects = [a for a in aspects if a.state != NA]
    answers = [x for a in aspects for x in a.answers]
    for a in aspects:
        if a.state == UNKNOWN and a.question:
            questions.append(a.question)

    verdict = _decide(aspects, bool(fw_bad), kind, applies, qfield, ref, questions)

    reason_parts = [a.text for a in aspects if verdict != "met" or a.state == OK] or []
    if applies is None and why is not None:
        reason_parts.insert(0, why)
    # an image the scan did not understand proves nothing either way for firmware-dependent provisions
    und = ctx["understood"]
    if fw_dependent and not und["ok"] and verdict in ("met", "needs_evidence"):
        verdict = "needs_evidence"
        reason_parts.insert(0, msg("assess.understood.no", files=und["files"], components=und["components"]))
    basis = _basis(aspects if verdict != "needs_evidence" else [a for a in aspects if a.state != UNKNOWN])
    if verdict == "met" and basis == "declared":
        reason_parts.append(msg("assess.basis.declared_note"))
    if not reason_parts:
        reason_parts = [msg("assess.reason.no_evidence")]
    reason = _join(reason_parts[:9])
    if kind == "readiness" and verdict == "needs_evidence":
        nxt = msg("assess.next.readiness")
    else:
        nxt = _next_step(verdict, fw_bad, aspects, questions, item)
    return _verdict(item, fw, verdict, reason, finding_ids, answers, nxt, questions, ctx, appl=appl, basis=basis)


def _firmware_aspect(ref: str, rule: dict, use_links: bool, result: ScanResult,
                     ctx: dict) -> tuple[list[Finding], list[Finding], Aspect | None]:
    """The firmware's evidence on a provision: (the findings that name it, the bad ones, the aspect they give).
    A finding that names the provision always counts (fw: false drops only the cross-walk links and the
    firmware-clean evidence)."""
    direct = direct_refs(ref)
    refs = evidence_refs(ref) if use_links else direct
    checks = set(rule.get("checks", []))
    hits = [f for f in result.findings if (refs & set(f.provisions)) or f.check in checks]
    bad = [f for f in hits if f.severity in BAD_SEVERITIES]
    low = [f for f in hits if f.severity == "low"]
    if bad:
        return hits, bad, Aspect(BAD, _finding_text(bad), findings=[f.id for f in bad], source="firmware")
    if low:
        return hits, [], Aspect(PARTIAL, _finding_text(low), findings=[f.id for f in low], source="firmware")
    if not hits and use_links and ctx["understood"]["ok"] and result.image.opened is not False:
        # (an image that could not be opened, unpack's image.opened false, gives the checks nothing to read)
        # a check designed for this provision (its own provisions name it, or the rule lists it) that ran
        # on material present in the image; a check serving only a cross-walk neighbour proves nothing here
        covering = sorted(c for c, provs in ctx["checks"].items()
                          if (direct & set(provs) or c in checks) and _had_material(c, result, ctx["paths"]))
        if covering:
            return hits, [], Aspect(OK, msg("assess.fw.clean", checks=", ".join(covering[:6])), weak=True,
                                    source="firmware")
    return hits, [], None


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
    if fw_bad:
        f = fw_bad[0]
        more = len(fw_bad) - 1
        extra = msg("assess.next.more_findings", n=more) if more else Text(en="", zh="")
        return Text(en=f"Fix {f.id}: {f.remediation.en}{extra.en}", zh=f"修复 {f.id}：{f.remediation.zh}{extra.zh}")
    if verdict in ("not_met", "partly_met"):
        bad = [a for a in aspects if a.state in (BAD, PARTIAL)]
        return _join([msg("assess.next.fix")] + [a.text for a in bad[:3]])
    if verdict == "needs_evidence":
        if questions:
            qs = [question_text(q, item) for q in dict.fromkeys(questions)]
            return _join([msg("assess.next.answer")] + qs[:3])
        return msg("assess.next.evidence")
    return msg("assess.next.keep")


def question_text(field: str, item: dict | None = None) -> Text:
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
    by_market = registry.market_frameworks()
    markets = [m for m in (markets or get(profile, "markets") or list(by_market)) if m in by_market]
    version = en303645_version or get(profile, "en303645_version") or frameworks.catalogue("en303645")["default_version"]
    fws = [fw for fw in registry.framework_ids() if any(fw in by_market[m] for m in markets)]
    und = understood(result)
    ctx = {"markets": markets, "checks": _check_provisions(result), "understood": und, "paths": _paths(result),
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
        "frameworks": [_framework_entry(fw, version, markets, profile) for fw in fws],
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


# ------------------------------------------------------------------ parents from children
_NIST_CHILD = re.compile(r"^(8425-[A-Z]+)-\d+$")
_PSTI_CHILD = re.compile(r"^(PSTI-S1-\d)\.[a-z]$")


def parent_of(ref: str) -> str | None:
    fw, pid = ref.split(":", 1)
    if fw == "nistir8425" and (m := _NIST_CHILD.match(pid)):
        return f"{fw}:{m.group(1)}"
    if fw == "psti" and (m := _PSTI_CHILD.match(pid)):
        return f"{fw}:{m.group(1)}"
    if fw == "cra" and pid.startswith("AnnexI.PartI.2."):
        return "cra:AnnexI.PartI.1"  # Part I(1) is met through the Part I(2) essential requirements
    return None


def derive_parents(verdicts: list[dict]) -> None:
    """A parent is never better than its applicable children: any child not met / partly met -> the parent
    is at most partly met (not met when most children are not met); children needing evidence keep a
    'met' parent at needs_evidence.  The parent's own evidence still counts (a bad parent stays bad)."""
    by_ref = {v["ref"]: v for v in verdicts}
    kids: dict[str, list[dict]] = {}
    for v in verdicts:
        p = parent_of(v["ref"])
        if p in by_ref:
            kids.setdefault(p, []).append(v)
    rank = {"not_met": 0, "partly_met": 1, "needs_evidence": 2, "met": 3}
    for pref, cs in kids.items():
        par = by_ref[pref]
        app = [c for c in cs if c["verdict"] != "not_applicable"]
        if not app or par["verdict"] == "not_applicable":
            continue
        counts = {k: sum(1 for c in app if c["verdict"] == k) for k in rank}
        n_bad = counts["not_met"]
        if n_bad * 2 > len(app):
            from_kids = "not_met"
        elif n_bad or counts["partly_met"]:
            from_kids = "partly_met"
        elif counts["needs_evidence"]:
            from_kids = "needs_evidence"
        else:
            from_kids = "met"
        own = par["verdict"]
        new = min(own, from_kids, key=lambda x: rank[x])
        if own == "needs_evidence" and from_kids in ("not_met", "partly_met"):
            new = from_kids
        par["derived_from"] = [c["ref"] for c in app]
        labels = [(msg(f"assess.verdict.{k}"), n) for k, n in counts.items() if n]
        shown = Text(en=", ".join(f"{t.en} {n}" for t, n in labels), zh="，".join(f"{t.zh} {n} 项" for t, n in labels))
        worst = [c["ref"].split(":", 1)[1] for c in app if c["verdict"] in ("not_met", "partly_met", "needs_evidence")]
        note = msg("assess.derived", n=len(app), counts=shown, refs=", ".join(worst[:8]) or "-")
        par["reason"] = {"en": f"{par['reason']['en']}; {note.en}", "zh": f"{par['reason']['zh']}；{note.zh}"}
        if new != own:
            if par["declared"]:
                dn = msg("assess.basis.declared_note")
                par["reason"] = {"en": par["reason"]["en"].replace(f"; {dn.en}", ""),
                                 "zh": par["reason"]["zh"].replace(f"；{dn.zh}", "")}
            par["verdict"] = new
            par["declared"] = False
            par["qualifier"] = None
            par["next_step"] = msg("assess.next.children", refs=", ".join(worst[:8])).model_dump()


def _framework_entry(fw: str, version: str, markets: list[str], profile: dict | None = None) -> dict[str, Any]:
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
