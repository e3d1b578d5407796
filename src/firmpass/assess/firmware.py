"""What the firmware shows on a provision: the findings that name it, and - when there are none - the
checks designed for it that ran on material present in the image.  Also whether the scan understood
the image at all (files unpacked, components identified)."""
from __future__ import annotations

from typing import Any

from firmpass.assess.facts import BAD, OK, PARTIAL, Aspect, join_texts
from firmpass.assess.refs import direct_refs, evidence_refs
from firmpass.i18n import msg, terms
from firmpass.model import Finding, ScanResult, Text

BAD_SEVERITIES = {"critical", "high", "medium"}
FIRMWARE_FACTS = {"sbom", "kev", "known_vulns", "secure_boot", "hardening"}  # facts read from the scan, not the profile


def check_provisions(result: ScanResult) -> dict[str, list[str]]:
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
def file_paths(result: ScanResult) -> set[str]:
    """The paths of the image's files (regular files and links)."""
    return {f.path for f in result.files if f.type in ("file", "symlink", "hardlink")}


def _has(prefixes: tuple[str, ...]):
    """A MATERIAL test: some file lies under one of `prefixes`."""
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
    """Whether what check `check` inspects exists in the image (MATERIAL, longest prefix first)."""
    for prefix in sorted(MATERIAL, key=len, reverse=True):
        if check.startswith(prefix):
            return bool(MATERIAL[prefix](result, paths))
    return bool(paths)  # file-content checks (keys, secrets, updater scripts, logging, permissions)


def understood(result: ScanResult) -> dict[str, Any]:
    """Did the scan understand the image: files unpacked and components identified."""
    n_files = sum(1 for f in result.files if f.type == "file")
    n_comp = len(result.components)
    return {"ok": bool(n_files and n_comp), "files": n_files, "components": n_comp}


def _finding_text(fs: list[Finding]) -> Text:
    """The first five findings, each with its id, severity and title."""
    return join_texts(msg("assess.fw.finding", id=f.id, severity=terms.severity(f.severity), title_en=f.title.en,
                          title_zh=f.title.zh) for f in fs[:5])


def firmware_aspect(ref: str, rule: dict, use_links: bool, result: ScanResult,
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
