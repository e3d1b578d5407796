"""The one result model every pipeline stage adds to.

Serialised as OUT/findings.json with the sections ``image``, ``files``, ``components``,
``vulnerabilities`` and ``findings`` (the public contract; names are stable), plus
``warnings`` and ``tool``.  Each stage appends to its own section and never rewrites
another stage's data.

One module per part of the contract, each imported from here (``from firmpass.model import X``):

- ``base``: the base model, ``Text`` (English and Chinese), ``Warning_``, severities, non-UTF-8 names
- ``image``: the image, its container tree and its files (unpack, inventory)
- ``components``: components and how each was recognised (identify)
- ``vulnerabilities``: matched vulnerabilities, their scores, exploitation and VEX (vulns)
- ``findings``: findings, their evidence and decisions (checks)
- ``sections``: the typed sections of ``ScanResult.extra`` (stage summaries)
- ``result``: ``ScanResult`` itself and ``ToolInfo``
- ``assessment``: assessment.json (assess)
"""
from __future__ import annotations

from .assessment import ASSESSMENT_SCHEMA_VERSION, Assessment, MarketSummary, Verdict, VerdictName
from .base import SEVERITY_ORDER, Severity, Text, Warning_, name_bytes, readable_name
from .components import Component, ComponentEvidence, EvidenceMethod, PackageOrigin
from .findings import Evidence, Finding, FindingDecision
from .image import ContainerNode, ElfInfo, FileEntry, ImageInfo
from .result import SCHEMA_VERSION, ScanResult, ToolInfo
from .sections import (EXTRA_SECTIONS, BusyboxFacts, ChecksRun, HardeningSummary, InventorySummary, KernelFacts,
                       LocalLog, LogDaemon, LoggingFacts, RemoteLog, RtosHit, SecureBootSummary, ServiceStart,
                       UpdaterFacts, VulnDbSummary)
from .vulnerabilities import (EXPLOIT_SOURCE_NAMES, VULN_FACTS, CvssScore, EpssScore, ExploitEvidence, KevEntry,
                              MatchInfo, VexStatement, Vulnerability, exploit_source_name)

__all__ = [
    "ASSESSMENT_SCHEMA_VERSION", "Assessment", "MarketSummary", "Verdict", "VerdictName",
    "SEVERITY_ORDER", "Severity", "Text", "Warning_", "name_bytes", "readable_name",
    "Component", "ComponentEvidence", "EvidenceMethod", "PackageOrigin",
    "Evidence", "Finding", "FindingDecision",
    "ContainerNode", "ElfInfo", "FileEntry", "ImageInfo",
    "SCHEMA_VERSION", "ScanResult", "ToolInfo",
    "EXTRA_SECTIONS", "BusyboxFacts", "ChecksRun", "HardeningSummary", "InventorySummary", "KernelFacts",
    "LocalLog", "LogDaemon", "LoggingFacts", "RemoteLog", "RtosHit", "SecureBootSummary", "ServiceStart",
    "UpdaterFacts", "VulnDbSummary",
    "EXPLOIT_SOURCE_NAMES", "VULN_FACTS", "CvssScore", "EpssScore", "ExploitEvidence", "KevEntry",
    "MatchInfo", "VexStatement", "Vulnerability", "exploit_source_name",
]
