"""What the VEX readers and writers share: the status and justification vocabularies of CycloneDX,
CSAF and OpenVEX, the product key a triage decision is stored under, and small output helpers."""
from __future__ import annotations

from datetime import datetime, timezone

from packageurl import PackageURL

from firmpass.model import Component, Text

# CycloneDX analysis.justification (the model's vocabulary) <-> CSAF / OpenVEX flag labels
CDX_TO_CSAF = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
CSAF_TO_CDX = {
    "component_not_present": "requires_dependency",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
STATE_TO_CDX = {"affected": "exploitable", "not_affected": "not_affected", "fixed": "resolved",
                "under_investigation": "in_triage"}
CDX_TO_STATE = {"exploitable": "affected", "not_affected": "not_affected", "false_positive": "not_affected",
                "resolved": "fixed", "resolved_with_pedigree": "fixed", "in_triage": "under_investigation"}



# ------------------------------------------------------------------------------------ product keys
def purl_key(purl: str | None) -> str | None:
    """The package URL without version, qualifiers or subpath (None when not a valid purl)."""
    if not purl:
        return None
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    return PackageURL(type=p.type, namespace=p.namespace, name=p.name).to_string()


def product_keys(c: Component) -> list[str]:
    """The keys a triage decision on component C may be stored under: purl without version, source
    package name, name."""
    keys = []
    pk = purl_key(c.purl)
    if pk:
        keys.append(pk)
    if c.properties.get("source_package"):
        keys.append(f"name:{str(c.properties['source_package']).lower()}")
    keys.append(f"name:{c.name.lower()}")
    return list(dict.fromkeys(keys))


def key_for(ident: str | None, name: str | None = None) -> str | None:
    """The product key of a VEX document's product: its purl without version, else its name."""
    if ident and ident.startswith("pkg:"):
        return purl_key(ident)
    if name:
        return f"name:{name.lower()}"
    if ident:
        return f"name:{ident.lower()}"
    return None


# ------------------------------------------------------------------------------------ import triage

# ------------------------------------------------------------------------------------ output helpers
def now_iso() -> str:
    """The current UTC time as the documents write it (seconds, Z)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def detail_str(t: Text | None) -> str | None:
    """A bilingual detail as one string: the English, and the Chinese after a slash when it differs."""
    if t is None:
        return None
    return t.en if t.en == t.zh else f"{t.en} / {t.zh}"
