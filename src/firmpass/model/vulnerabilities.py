"""What vulns hands to sbom, checks, assess and report: each matched vulnerability with its scores,
exploitation evidence, why it matched and its VEX state (findings.json `vulnerabilities`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from .base import _M, Severity, Text


class CvssScore(_M):
    version: str  # "2.0", "3.0", "3.1", "4.0"
    vector: str
    base_score: float
    severity: str | None = None
    source: str | None = None


class VexStatement(_M):
    state: Literal["affected", "not_affected", "fixed", "under_investigation"] = "affected"
    justification: str | None = None  # CycloneDX / CSAF justification code
    detail: Text | None = None
    source: str = "firmpass"  # "firmpass" (automatic) or the imported triage file


class KevEntry(_M):
    """A CISA KEV catalogue entry (Vulnerability.kev)."""

    date_added: str | None = None
    due_date: str | None = None
    ransomware: str | None = None  # "Known" / "Unknown"
    name: str | None = None
    required_action: str | None = None


class ExploitEvidence(_M):
    """One source saying the vulnerability is exploited in the wild (Vulnerability.exploited)."""

    source: str  # "cisa-kev", "euvd"
    since: str | None = None
    ref: str | None = None  # the source's own id, e.g. EUVD-2025-1234


class EpssScore(_M):
    """FIRST EPSS (Vulnerability.epss)."""

    score: float
    percentile: float | None = None
    date: str | None = None


class MatchInfo(_M):
    """Why a vulnerability was matched to a component (Vulnerability.match)."""

    source: str | None = None  # the store source of the applicability row (nvd, osv, vendor:curl ...)
    criteria: str | None = None  # CPE criteria or package name
    range: str | None = None  # the affected range as written
    version: str | None = None  # the component version compared
    matched_by: str | None = None  # cpe / purl / name
    authority: bool | None = None  # the row comes from the product's own CNA
    version_scheme: str | None = None
    configuration: list[str] | str | None = None
    note: str | None = None
    also_matched: list[str] = Field(default_factory=list)
    vendor_ranges: list[str] = Field(default_factory=list)


def _as_typed(kind: Any, value: Any) -> Any:
    """`value` validated through its model and kept as the same plain data (only the keys it had);
    a value in an older or foreign shape is kept as written (never the reason a result fails to load)."""
    from pydantic import TypeAdapter, ValidationError

    try:
        typed = TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return value
    if isinstance(typed, list):
        return [t.model_dump(exclude_unset=True) if isinstance(t, BaseModel) else t for t in typed]
    return typed.model_dump(exclude_unset=True) if isinstance(typed, BaseModel) else typed


class Vulnerability(_M):
    id: str  # CVE-YYYY-NNNN (or GHSA / OSV id)
    aliases: list[str] = Field(default_factory=list)
    component: str  # bom_ref
    component_name: str
    component_version: str | None = None
    description: str | None = None
    published: str | None = None
    cvss: list[CvssScore] = Field(default_factory=list)
    severity: Severity | None = None
    severity_basis: Literal["cvss", "vendor"] | None = None  # "vendor": no CVSS, the vendor's own rating
    vendor_severity: list[dict[str, Any]] = Field(default_factory=list)  # [{"source": "curl", "severity": "high"}]
    cwes: list[dict[str, Any]] = Field(default_factory=list)  # [{"id": "CWE-122", "name": "Heap-based ..."}]
    kev: dict[str, Any] | None = None  # {"date_added": ..., "due_date": ..., "ransomware": ...}
    # evidence of exploitation in the wild, one entry per source (see exploitation()):
    # [{"source": "cisa-kev", "since": "2022-05-04"}, {"source": "euvd", "since": ..., "ref": "EUVD-..."}]
    exploited: list[dict[str, Any]] = Field(default_factory=list)
    epss: dict[str, float] | None = None  # {"score": ..., "percentile": ...}
    match: dict[str, Any] = Field(default_factory=dict)  # why it matched: criteria, range, source
    vex: VexStatement = Field(default_factory=VexStatement)
    references: list[str] = Field(default_factory=list)

    @field_validator("kev", "exploited", "epss", "match", mode="before")
    @classmethod
    def _typed_facts(cls, v: Any, info) -> Any:
        """kev / exploited / epss / match keep their published shape (plain data) and are validated
        through KevEntry / ExploitEvidence / EpssScore / MatchInfo; typed view: Vulnerability.typed()."""
        return v if v is None else _as_typed(VULN_FACTS[info.field_name], v)

    def typed(self, name: str) -> Any:
        """kev, exploited, epss or match as its model (None when absent or in a foreign shape)."""
        from pydantic import TypeAdapter, ValidationError

        value = getattr(self, name)
        if value is None:
            return None
        try:
            return TypeAdapter(VULN_FACTS[name]).validate_python(value)
        except ValidationError:
            return None

    def exploitation(self) -> list[dict[str, Any]]:
        """Every piece of evidence that the vulnerability is exploited in the wild: CISA KEV and ENISA
        EUVD (both "actively exploited" for EU CRA Art. 14).  A result written before `exploited`
        existed still counts through `kev`."""
        out = [dict(e) for e in self.exploited if isinstance(e, dict) and e.get("source")]
        if self.kev and not any(e["source"] == "cisa-kev" for e in out):
            out.insert(0, {"source": "cisa-kev", "since": self.kev.get("date_added") or self.kev.get("dateAdded")})
        return out

    @property
    def is_exploited(self) -> bool:
        return bool(self.kev) or any(isinstance(e, dict) and e.get("source") for e in self.exploited)

    def exploited_since(self) -> tuple[str | None, str | None]:
        """(earliest date any source gives, that source) or (None, None)."""
        dated = sorted((str(e["since"])[:10], str(e["since"]), e["source"]) for e in self.exploitation() if e.get("since"))
        return (dated[0][1], dated[0][2]) if dated else (None, None)


VULN_FACTS: dict[str, Any] = {"kev": KevEntry, "exploited": list[ExploitEvidence], "epss": EpssScore, "match": MatchInfo}

EXPLOIT_SOURCE_NAMES = {"cisa-kev": "CISA KEV", "euvd": "ENISA EUVD"}


def exploit_source_name(source: str) -> str:
    return EXPLOIT_SOURCE_NAMES.get(source, source)
