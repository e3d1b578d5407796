"""The scan result itself (OUT/findings.json): the sections each stage adds to, and the tool record."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import Field, field_validator

from .base import _M, Warning_, valid_text
from .components import Component
from .findings import Finding
from .image import FileEntry, ImageInfo
from .sections import EXTRA_SECTIONS, adapter, typed_section
from .vulnerabilities import Vulnerability

SCHEMA_VERSION = 2  # 1: findings.json written before schema_version existed (same sections, untyped extra)


class ToolInfo(_M):
    name: str = "firmpass"
    version: str
    started: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    finished: str | None = None
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-stage timing / status / data dates


class ScanResult(_M):
    schema_version: int = 1  # see SCHEMA_VERSION; a new scan writes SCHEMA_VERSION (pipeline.new_context)
    tool: ToolInfo
    image: ImageInfo
    files: list[FileEntry] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    warnings: list[Warning_] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)  # stage summaries; known sections: EXTRA_SECTIONS

    @field_validator("extra")
    @classmethod
    def _known_sections(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {k: (typed_section(k, x) if k in EXTRA_SECTIONS else x) for k, x in v.items()}

    def section(self, name: str) -> Any:
        """The typed view of a known extra section (None when absent or not in the known shape)."""
        value = self.extra.get(name)
        if value is None:
            return None
        from pydantic import ValidationError

        try:
            return adapter(name).validate_python(value)
        except ValidationError:
            return None

    def to_json(self) -> str:
        try:
            return self.model_dump_json(indent=2, exclude_none=False)
        except Exception:  # noqa: BLE001 - a name from the image that is not UTF-8 somewhere: never lose the file
            import json

            return json.dumps(valid_text(self.model_dump(mode="json")), indent=2, ensure_ascii=False)
