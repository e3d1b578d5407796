"""Small functions where an assessment rule needs logic: facts read from the scan result and
applicability predicates read from the profile.  Rules in rules.yaml name them.

A fact returns an Aspect: ok / bad / partial / unknown / na, with a bilingual line of evidence.
A predicate returns True (applies), False (does not apply) or None (unknown: the profile does not say).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from firmpass.i18n import msg, terms
from firmpass.model import ScanResult, Text
from firmpass.profile import get

OK, BAD, PARTIAL, UNKNOWN, NA = "ok", "bad", "partial", "unknown", "na"


@dataclass
class Aspect:
    state: str
    text: Text
    findings: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    question: str | None = None  # profile field to ask about when unknown
    weak: bool = False  # firmware-clean evidence: supports 'met', never turns a bad answer into 'partly met'
    source: str = "profile"  # "firmware" when read from the scan (findings, clean checks, scan facts)


def join_texts(parts: Iterable[Text]) -> Text:
    """Bilingual texts joined into one line ("; " in English, "；" in Chinese)."""
    ps = list(parts)
    return Text(en="; ".join(p.en for p in ps), zh="；".join(p.zh for p in ps))


def _affected(result: ScanResult):
    return [v for v in result.vulnerabilities if v.vex.state in ("affected", "under_investigation")]


def _vulns_checked(result: ScanResult) -> bool:
    db = result.extra.get("vuln_db")
    if isinstance(db, dict) and db.get("empty"):
        return False
    if (result.tool.stages.get("vulns") or {}).get("status") in ("failed", "skipped", "stopped"):
        return False  # a stage that failed checked nothing: never "no critical vulnerability left"
    return bool(db) or bool(result.vulnerabilities) or "vulns" in result.tool.stages


def fact_sbom(result: ScanResult, profile: dict | None) -> Aspect:
    n = len(result.components)
    if n:
        return Aspect(OK, msg("assess.fact.sbom_ok", n=n))
    return Aspect(UNKNOWN, msg("assess.fact.sbom_none"))


def fact_kev(result: ScanResult, profile: dict | None) -> Aspect:
    """Known exploited: CISA KEV or ENISA EUVD (Vulnerability.is_exploited)."""
    kev = [v for v in _affected(result) if v.is_exploited]
    if kev:
        ids = sorted({v.id for v in kev})
        return Aspect(BAD, msg("assess.fact.kev_bad", n=len(ids), ids=", ".join(ids[:8])))
    if not result.components:  # nothing identified: "no known vulnerability" would mean nothing
        return Aspect(UNKNOWN, msg("assess.fact.no_components"))
    if _vulns_checked(result):
        return Aspect(OK, msg("assess.fact.kev_ok"))
    return Aspect(UNKNOWN, msg("assess.fact.vulns_unknown"))


def fact_known_vulns(result: ScanResult, profile: dict | None) -> Aspect:
    hi = [v for v in _affected(result) if (v.severity in ("critical", "high")) and not v.is_exploited]
    if hi:
        ids = sorted({v.id for v in hi})
        return Aspect(BAD, msg("assess.fact.vulns_bad", n=len(ids), ids=", ".join(ids[:8])))
    if not result.components:
        return Aspect(UNKNOWN, msg("assess.fact.no_components"))
    if _vulns_checked(result):
        return Aspect(OK, msg("assess.fact.vulns_ok"))
    return Aspect(UNKNOWN, msg("assess.fact.vulns_unknown"))


SECURE_BOOT = {"verified": OK, "signed_no_key": PARTIAL, "signature_invalid": BAD, "unsigned": BAD,
               "verification_disabled": BAD}  # U-Boot verify=n: signed images boot unchecked (BOOT-006)


def fact_secure_boot(result: ScanResult, profile: dict | None) -> Aspect:
    sb = result.section("secure_boot")  # model.SecureBootSummary
    verdict = sb.verdict if sb is not None else None
    state = SECURE_BOOT.get(verdict or "", UNKNOWN)
    return Aspect(state, msg("assess.fact.secure_boot", verdict=terms.value(verdict or "unknown")))


def fact_hardening(result: ScanResult, profile: dict | None) -> Aspect:
    h = result.section("hardening")  # model.HardeningSummary
    if h is None or not h.elf_count:
        return Aspect(UNKNOWN, msg("assess.fact.hardening_unknown"))
    n = h.elf_count
    ratios = {"nx": h.nx / n, "canary": h.canary / n}
    if h.executables:  # PIE is a property of executables only; libraries are always position-independent
        ratios["pie"] = h.pie / h.executables
    ratios["relro"] = (h.relro_full + h.relro_partial) / n
    worst = min(ratios.values())
    state = OK if worst >= 0.9 else (BAD if worst < 0.5 else PARTIAL)
    detail = ", ".join(f"{k} {v:.0%}" for k, v in ratios.items())
    return Aspect(state, msg("assess.fact.hardening", n=n, detail=detail))


def _debug(profile: dict | None) -> list[dict] | None:
    d = get(profile, "hardware.debug_interfaces")
    return d if isinstance(d, list) else None


def fact_debug_interfaces(result: ScanResult, profile: dict | None) -> Aspect:
    d = _debug(profile)
    if d is None:
        return Aspect(UNKNOWN, msg("assess.fact.debug_unknown"), question="hardware.debug_interfaces")
    open_ = [x["name"] for x in d if x.get("state") in ("enabled", "unknown")]
    ans = [{"field": "hardware.debug_interfaces", "value": [f"{x['name']}={x.get('state')}" for x in d]}]
    if open_:
        return Aspect(BAD, msg("assess.fact.debug_open", names=", ".join(open_)), answers=ans)
    return Aspect(OK, msg("assess.fact.debug_ok", n=len(d)), answers=ans)


def fact_debug_protected(result: ScanResult, profile: dict | None) -> Aspect:
    d = _debug(profile)
    if d is None:
        return Aspect(UNKNOWN, msg("assess.fact.debug_unknown"), question="hardware.debug_interfaces")
    unprot = [x["name"] for x in d if x.get("state") != "removed" and not x.get("physically_protected")]
    ans = [{"field": "hardware.debug_interfaces", "value": [f"{x['name']} protected={x.get('physically_protected')}" for x in d]}]
    if unprot:
        return Aspect(BAD, msg("assess.fact.debug_unprotected", names=", ".join(unprot)), answers=ans)
    return Aspect(OK, msg("assess.fact.debug_protected", n=len(d)), answers=ans)


def fact_support_period(result: ScanResult, profile: dict | None) -> Aspect:
    from firmpass.assess.postmarket import support_period_check

    sp = support_period_check(profile)
    ans = [{"field": f, "value": get(profile, f)} for f in ("support.placed_on_market", "support.end_date",
                                                             "support.expected_use_years") if get(profile, f) is not None]
    state = {"ok": OK, "too_short": BAD, "unknown": UNKNOWN}[sp["status"]]
    q = None if state != UNKNOWN else sp.get("missing", "support.end_date")
    return Aspect(state, Text(**sp["text"]), answers=ans, question=q)


def fact_supplier_attestations(result: ScanResult, profile: dict | None) -> Aspect:
    att = get(profile, "supplier_attestations")
    if not att:
        return Aspect(UNKNOWN, msg("assess.fact.attest_none"), question="supplier_attestations")
    ans = [{"field": "supplier_attestations", "value": [f"{a['component']}: {a.get('document', '')}" for a in att]}]
    return Aspect(OK, msg("assess.fact.attest_ok", n=len(att)), answers=ans)


def fact_art14(result: ScanResult, profile: dict | None) -> Aspect:
    """Past notifications recorded in the profile checked against the Art. 14 deadlines."""
    from firmpass.assess.postmarket import incident_deadlines

    late = []
    for inc in get(profile, "incidents") or []:
        d = incident_deadlines(inc)
        sent = inc.get("notification_sent")
        if sent and d.get("notification") and _ts(sent) > _ts(d["notification"]):
            late.append(inc.get("id") or inc["kind"])
    if late:
        return Aspect(BAD, msg("assess.fact.art14_late", ids=", ".join(late)),
                      answers=[{"field": "incidents", "value": late}])
    return Aspect(NA, msg("assess.fact.art14_none"))


def _ts(s: str) -> dt.datetime:
    from firmpass.assess.postmarket import parse_when

    return parse_when(s)


FACTS: dict[str, Callable[[ScanResult, dict | None], Aspect]] = {
    "sbom": fact_sbom, "kev": fact_kev, "known_vulns": fact_known_vulns, "secure_boot": fact_secure_boot,
    "hardening": fact_hardening, "debug_interfaces": fact_debug_interfaces, "debug_protected": fact_debug_protected,
    "support_period": fact_support_period, "supplier_attestations": fact_supplier_attestations, "art14": fact_art14,
}


# ------------------------------------------------------------------ applicability predicates
def _b(profile, field_):
    v = get(profile, field_)
    return None if v is None else bool(v)


def _not(x):
    return None if x is None else not x


def _has_list(profile, field_):
    v = get(profile, field_)
    return None if v is None else bool(v)


def _mech(profile):
    m = get(profile, "updates.mechanism")
    return None if m is None else m != "none"


def _net_update(profile):
    m = get(profile, "updates.mechanism")
    return None if m is None else m in ("ota", "app")


def _preinstalled(profile):
    s = get(profile, "authentication.password_scheme")
    return None if s is None else s in ("unique-per-device", "shared-default")


def _and(*xs):
    if any(x is False for x in xs):
        return False
    if all(x is True for x in xs):
        return True
    return None


def _or(*xs):
    if any(x is True for x in xs):
        return True
    if all(x is False for x in xs):
        return False
    return None


# EN 303 645 Table B.1 conditions (numbers) and V3 features (letters) read from the profile.
ETSI_CONDITIONS: dict[str, Callable[[dict | None], bool | None]] = {
    "1": lambda p: _b(p, "authentication.uses_passwords"),
    "2": _preinstalled,
    "3": lambda p: _b(p, "updates.non_updatable_components"),
    "4": lambda p: _b(p, "product.constrained_device"),
    "5": lambda p: _not(_b(p, "product.constrained_device")),
    "6": lambda p: _b(p, "data.telemetry"),
    "7": lambda p: _b(p, "data.consent_based"),
    "8": lambda p: _or(_b(p, "authentication.uses_passwords"), _has_list(p, "remote_access.features")),
    "9": lambda p: _or(_b(p, "updates.automatic"), _b(p, "updates.notify_user")),
    "10": lambda p: None,
    "11": _net_update,
    "12": _mech,
    "13": lambda p: _has_list(p, "hardware.debug_interfaces"),
    "14": lambda p: _not(_b(p, "product.constrained_device")),
    "15": lambda p: _not(_b(p, "product.constrained_device")),
    "16": lambda p: True,  # every connected device holding keys or credentials: assumed, never skipped
    "a": lambda p: _or(_b(p, "authentication.uses_passwords"), _b(p, "authentication.m2m_uses_passwords")),
    "b": lambda p: (None if get(p, "authentication.password_scheme") is None
                    else get(p, "authentication.password_scheme") == "unique-per-device"),
    "c": lambda p: _or(_b(p, "authentication.uses_passwords"), None if get(p, "authentication.crypto") is None else True),
    "d": lambda p: _or(_b(p, "authentication.uses_passwords"), _has_list(p, "remote_access.features")),
    "e": lambda p: _or(_has_list(p, "remote_access.features"), _and(_b(p, "authentication.uses_passwords"), _b(p, "product.internet_connected"))),
    "f": _mech,
    "g": _mech,
    "h": lambda p: _b(p, "updates.automatic"),
    "i": lambda p: _b(p, "updates.notify_user"),
    "j": _net_update,
    "k": lambda p: True,
    "l": lambda p: None,
    "m": lambda p: _or(_net_update(p), _has_list(p, "data.cloud_endpoints")),
    "n": lambda p: _has_list(p, "remote_access.features"),
    "o": lambda p: _has_list(p, "data.cloud_endpoints"),
    "p": lambda p: True,
    "q": lambda p: _has_list(p, "hardware.debug_interfaces"),
    "r": lambda p: _has_list(p, "hardware.debug_interfaces"),
    "s": lambda p: _b(p, "hardware.secure_boot.enabled"),
    "t": lambda p: _and(_b(p, "data.personal_data"), _has_list(p, "data.cloud_endpoints")),
    "u": lambda p: _b(p, "data.sensitive_personal_data"),
    "v": lambda p: _has_list(p, "data.external_sensors"),
    "w": lambda p: _b(p, "data.telemetry"),
    "x": lambda p: _and(_b(p, "data.personal_data"), _has_list(p, "data.cloud_endpoints")),
    "y": lambda p: _b(p, "data.consent_based"),
    "z": lambda p: _b(p, "data.personal_data"),
    "aa": lambda p: None,
}
# the profile field to ask about when a condition is unknown
CONDITION_FIELDS = {
    "1": "authentication.uses_passwords", "2": "authentication.password_scheme", "3": "updates.non_updatable_components",
    "4": "product.constrained_device", "5": "product.constrained_device", "6": "data.telemetry", "7": "data.consent_based",
    "8": "authentication.uses_passwords", "9": "updates.automatic", "11": "updates.mechanism", "12": "updates.mechanism",
    "13": "hardware.debug_interfaces", "14": "product.constrained_device", "15": "product.constrained_device",
    "a": "authentication.uses_passwords", "b": "authentication.password_scheme", "c": "authentication.crypto",
    "d": "authentication.uses_passwords", "e": "remote_access.features", "f": "updates.mechanism", "g": "updates.mechanism",
    "h": "updates.automatic", "i": "updates.notify_user", "j": "updates.mechanism", "m": "updates.mechanism",
    "n": "remote_access.features", "o": "data.cloud_endpoints", "q": "hardware.debug_interfaces",
    "r": "hardware.debug_interfaces", "s": "hardware.secure_boot.enabled", "t": "data.personal_data",
    "u": "data.sensitive_personal_data", "v": "data.external_sensors", "w": "data.telemetry", "x": "data.personal_data",
    "y": "data.consent_based", "z": "data.personal_data",
}

COMPONENT_CATEGORIES = {"network-interface", "security-mcu", "security-mpu", "tamper-resistant-mcu", "smartcard"}


def _mlps_level(p, n):
    lvl = get(p, "mlps_level")
    return None if lvl is None else lvl >= n


PREDICATES: dict[str, Callable[[dict | None], bool | None]] = {
    "toy": lambda p: _b(p, "product.toy_or_childcare"),
    "mfa_required": lambda p: _or(_b(p, "product.handles_payments"), _b(p, "data.sensitive_personal_data")),
    "preinstalled_passwords": _preinstalled,
    "sensors": lambda p: _has_list(p, "data.external_sensors"),
    "is_component": lambda p: (None if get(p, "product.cra_category") is None
                               else get(p, "product.cra_category") in COMPONENT_CATEGORIES),
    "sbom_shared": lambda p: (None if get(p, "documents.sbom_shared") is None else bool(get(p, "documents.sbom_shared"))),
    "declared": lambda p: False,  # optional provisions: only assessed when the maker declares them
    "mlps_level_2": lambda p: _mlps_level(p, 2),
    "mlps_level_3": lambda p: _mlps_level(p, 3),
}
PREDICATE_FIELDS = {"toy": "product.toy_or_childcare", "mfa_required": "product.handles_payments",
                    "preinstalled_passwords": "authentication.password_scheme", "sensors": "data.external_sensors",
                    "is_component": "product.cra_category", "sbom_shared": "documents.sbom_shared",
                    "mlps_level_2": "mlps_level", "mlps_level_3": "mlps_level"}

# EN 18031 parts -> applicability
EN18031_PARTS: dict[str, Callable[[dict | None], bool | None]] = {
    "1": lambda p: _b(p, "product.internet_connected"),
    "2": lambda p: _or(_b(p, "data.personal_data"), _b(p, "product.toy_or_childcare")),
    "3": lambda p: _b(p, "product.handles_payments"),
}
EN18031_PART_FIELDS = {"1": "product.internet_connected", "2": "data.personal_data", "3": "product.handles_payments"}
