"""What checks hands to assess and report: findings with their evidence and a person's decision on
them (findings.json `findings`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .base import _M, Severity, Text


class Evidence(_M):
    path: str  # path inside the image's filesystem (or the image/container for boot checks)
    container: str | None = None
    line: int | None = None
    excerpt: str | None = None  # secrets masked
    sha256: str | None = None
    detail: Text | None = None  # what this piece of evidence shows, in both languages

    @field_validator("detail", mode="before")
    @classmethod
    def _detail_text(cls, v: Any) -> Any:
        """findings.json written before details were bilingual holds a plain string: read it as the
        same text in both languages (the report then shows it once)."""
        if isinstance(v, str):
            return Text(en=v, zh=v) if v else None
        return v


class FindingDecision(_M):
    """A person's decision on a finding (firmpass.checks.decisions): the risk is accepted, or the
    finding is fixed in a later version; who decided, when, and why."""
    kind: Literal["accepted_risk", "fixed_in_version"]
    fixed_in: str | None = None
    reason: str = ""
    who: str
    at: str


class Finding(_M):
    id: str  # unique within the scan, e.g. "CRED-002-1"
    check: str  # the check id in the registry, e.g. "CRED-002"
    severity: Severity
    title: Text
    description: Text
    remediation: Text
    evidence: list[Evidence] = Field(default_factory=list)
    provisions: list[str] = Field(default_factory=list)  # "framework:id"
    data: dict[str, Any] = Field(default_factory=dict)  # machine-readable details
    decision: FindingDecision | None = None  # a person's decision given to the scan (--decisions)
