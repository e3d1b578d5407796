"""assessment.json (stage assess): per-provision verdicts and per-market readiness."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import _M, Text

ASSESSMENT_SCHEMA_VERSION = 2  # 1: assessment.json written before schema_version existed (same keys, some absent)
VerdictName = Literal["met", "not_met", "partly_met", "needs_evidence", "not_applicable"]


class Verdict(_M):
    """One provision's verdict (assessment.json `verdicts`; the rules: assess/engine.py)."""

    ref: str  # "framework:id"
    framework: str
    id: str
    title: Text
    group: Text | None = None
    status: str | None = None  # mandatory / recommended / conditional / informational
    status_detail: Any = None  # EN 303 645: the status as Table B.1 writes it
    verdict: VerdictName
    reason: Text | None = None
    findings: list[str] = Field(default_factory=list)  # Finding ids
    profile_answers: list[dict[str, Any]] = Field(default_factory=list)
    next_step: Text | None = None
    uncertain: bool = False  # the catalogue's own uncertainty mark, kept visible
    uncertainty: Text | None = None
    markets: list[str] = Field(default_factory=list)
    crosswalk: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)  # profile fields that would settle it
    binding: Literal["mandatory", "recommended", "informational"] | None = None
    basis: str | None = None  # firmware / declared / mixed / none
    declared: bool = False  # met on the maker's declarations only
    qualifier: Text | None = None
    applicability: dict[str, Any] | None = None  # {applies, kind, reason}
    derived_from: list[str] = Field(default_factory=list)  # children a parent's verdict was derived from


class MarketSummary(_M):
    """Readiness of one market (assessment.json `summary[market]`)."""

    score: float | None = None  # (met + 0.5 partly_met) / applicable; None: nothing applicable
    counts: dict[str, int] = Field(default_factory=dict)  # verdict -> number
    frameworks: list[str] = Field(default_factory=list)
    label: Text | None = None
    mandatory_not_met: list[str] = Field(default_factory=list)
    recommended_not_met: list[str] = Field(default_factory=list)
    declared_only: int = 0
    readiness_items: list[str] = Field(default_factory=list)


class Assessment(_M):
    """assessment.json: per-market readiness from the scan result and the profile."""

    schema_version: int = 1  # see ASSESSMENT_SCHEMA_VERSION
    tool: dict[str, Any] = Field(default_factory=dict)
    generated: str | None = None
    image: dict[str, Any] = Field(default_factory=dict)  # name, sha256 of the scanned image
    profile: dict[str, Any] | None = None  # path, abs_path, sha256 of the profile used
    markets: list[str] = Field(default_factory=list)
    frameworks: list[dict[str, Any]] = Field(default_factory=list)  # id, version, title, markets, provisions
    classification: dict[str, Any] | None = None  # CRA class declared / derived
    verdicts: list[Verdict] = Field(default_factory=list)
    summary: dict[str, MarketSummary] = Field(default_factory=dict)
    questions: list[dict[str, Any]] = Field(default_factory=list)
    divergences: list[dict[str, Any]] = Field(default_factory=list)
    post_market: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    scan_understood: dict[str, Any] | None = None
    citations: dict[str, Any] | None = None

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> "Assessment | None":
        """The typed view of an assessment dict (ctx.assessment, a loaded file); None for none or for
        a file in a shape this version cannot read (the report then shows what it can)."""
        from pydantic import ValidationError

        if not isinstance(data, dict):
            return None
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None
