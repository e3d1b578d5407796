"""The one result model every pipeline stage adds to.

Serialised as OUT/findings.json with the sections ``image``, ``files``, ``components``,
``vulnerabilities`` and ``findings`` (the public contract; names are stable), plus
``warnings`` and ``tool``.  Each stage appends to its own section and never rewrites
another stage's data.
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class _M(BaseModel):
    # defer_build: each model's validator is built on first use, not at import (start-up of `firmpass --help`)
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


def name_bytes(name: str) -> bytes:
    """The raw bytes of a name read with surrogateescape (a non-UTF-8 file name from an image)."""
    return name.encode("utf-8", "surrogateescape")


def readable_name(name: str) -> str:
    """A name that is valid UTF-8 text: itself when it already is, else every byte that was not
    UTF-8 shown as \\xNN (a GBK name stays readable as escapes, and JSON and reports
    stay valid).  The raw bytes are kept beside it (FileEntry.path_bytes)."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte (e.g. from UTF-16 names)
        return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name)


def _valid_text(obj: Any) -> Any:
    """A JSON-ready structure with every string made valid UTF-8 (readable_name)."""
    if isinstance(obj, str):
        return readable_name(obj)
    if isinstance(obj, dict):
        return {_valid_text(k): _valid_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_valid_text(v) for v in obj]
    return obj


class Text(_M):
    """A user-visible string in English and Chinese."""

    en: str
    zh: str


class Warning_(_M):
    """A problem met while scanning that did not stop the scan (a corrupt part, a limit hit)."""

    stage: str
    code: str
    message: Text
    part: str | None = None  # the container / file concerned


class ContainerNode(_M):
    """One container found in the image: the image itself, a carved part, a filesystem."""

    id: str  # "0" is the image; children "0.1", "0.1.2", ...
    parent: str | None = None
    format: str  # e.g. "vendor-header", "uimage", "fit", "squashfs", "jffs2", "gzip", ...
    offset: int = 0  # offset within the parent blob (carved parts) or 0
    size: int = 0
    source_path: str | None = None  # path inside the parent filesystem when the blob was a file in it
    extracted_to: str | None = None  # directory relative to the output dir
    blob: str | None = None  # the container's raw bytes on disk: relative to the output dir (absolute for the input image)
    status: Literal["ok", "partial", "failed", "skipped"] = "ok"
    meta: dict[str, Any] = Field(default_factory=dict)  # format-specific header fields (uImage name, FIT nodes ...)


class ElfInfo(_M):
    elf_class: int  # 32 or 64
    machine: str
    endian: Literal["little", "big"]
    type: str | None = None  # EXEC, DYN, REL ...


class FileEntry(_M):
    """One file as stored in the image: true metadata from the filesystem, not from the extractor."""

    path: str  # absolute path inside its filesystem, e.g. "/etc/shadow"
    container: str  # ContainerNode.id of the filesystem holding it
    chain: list[str] = Field(default_factory=list)  # formats from the image down, e.g. ["vendor-header", "squashfs"]
    type: Literal["file", "dir", "symlink", "hardlink", "chardev", "blockdev", "fifo", "socket"]
    size: int = 0
    mode: int = 0  # full permission bits incl. setuid/setgid/sticky (st_mode & 0o7777)
    uid: int = 0
    gid: int = 0
    link_target: str | None = None
    device: tuple[int, int] | None = None  # (major, minor)
    sha256: str | None = None
    sha512: str | None = None
    elf: ElfInfo | None = None
    disk_path: str | None = None  # extracted content, relative to the output dir (regular files only)
    # hex of the raw name when the image's name is not valid UTF-8; `path` then shows those bytes as \xNN
    path_bytes: str | None = None

    @property
    def mode_str(self) -> str:
        return format(self.mode, "04o")


class EvidenceMethod(str, Enum):
    """How a component was recognised (ComponentEvidence.method), with the CycloneDX analysis
    technique it stands for.  A method may carry a qualifier after "+" ("file-name+sibling": the
    version came from a sibling file) or a variant after its last "-" ("kernel-banner-gzip": the
    banner of a gzip-compressed kernel); EvidenceMethod.of() reads the base."""

    DPKG_STATUS = "dpkg-status"
    OPKG_STATUS = "opkg-status"
    APK_DB = "apk-db"
    RPM_DB = "rpm-db"
    BUILDROOT_DB = "buildroot-db"
    YOCTO_DB = "yocto-db"
    DPKG_FILE_LIST = "dpkg-file-list"
    OPKG_FILE_LIST = "opkg-file-list"
    SIGNATURE_BANNER = "signature-banner"
    SIGNATURE_OWNED = "signature-owned"
    SIGNATURE_BARE = "signature-bare"
    ELF_PACKAGE_NOTE = "elf-package-note"
    SONAME = "soname"
    SONAME_PACKAGE_NAME = "soname+package-name"
    SONAME_RELEASE_TABLE = "soname-release-table"  # the SONAME's version by the library's release table
    SYMBOL_VERSION = "symbol-version"  # a lower bound from the versioned symbols it defines
    KERNEL_BANNER = "kernel-banner"
    BZIMAGE_HEADER = "bzimage-header"
    VERMAGIC = "vermagic"
    KERNEL_VERSION = "kernel_version"
    RTOS_STRING = "rtos-string"
    UIMAGE_NAME = "uimage-name"
    MODULES_DIR = "modules-dir"
    FILE_NAME = "file-name"
    FILE_NAME_VERSION = "file-name-version"
    DIRECTORY = "directory"

    @classmethod
    def of(cls, text: str) -> "EvidenceMethod | None":
        """The method a ComponentEvidence.method names (its qualifier dropped), or None if unknown."""
        for candidate in (text, text.split("+", 1)[0], text.rsplit("-", 1)[0]):
            try:
                return cls(candidate)
            except ValueError:
                continue
        return None

    @property
    def technique(self) -> str:
        """CycloneDX evidence.identity.methods technique."""
        if self.name.endswith(("_STATUS", "_DB", "_FILE_LIST")):
            return "manifest-analysis"
        if self in (EvidenceMethod.UIMAGE_NAME, EvidenceMethod.MODULES_DIR, EvidenceMethod.FILE_NAME,
                    EvidenceMethod.FILE_NAME_VERSION, EvidenceMethod.DIRECTORY):
            return "filename"
        return "binary-analysis"


class ComponentEvidence(_M):
    path: str | None = None
    method: str  # an EvidenceMethod value, maybe with a "+qualifier" ("file-name+sibling")
    match: str | None = None  # the matched text
    rule: str | None = None  # rule id for signature matches
    container: str | None = None


class Component(_M):
    bom_ref: str
    name: str
    version: str | None = None
    type: Literal["application", "library", "operating-system", "firmware", "file", "framework"] = "application"
    supplier: str | None = None
    cpe: str | None = None
    purl: str | None = None
    licenses: list[str] = Field(default_factory=list)
    confidence: float = 1.0  # 0..1; weak signals are kept and marked, not dropped
    evidence: list[ComponentEvidence] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    hashes: dict[str, str] = Field(default_factory=dict)  # sha256 / sha512 of the main file
    dependencies: list[str] = Field(default_factory=list)  # bom_refs
    properties: dict[str, Any] = Field(default_factory=dict)  # e.g. busybox applets, distro revision; see PackageOrigin

    def origin(self) -> "PackageOrigin":
        """The package-database facts identify recorded in `properties` (the identify -> vulns hand-over),
        typed; a key that is absent or in another shape is None."""
        known = {k: v for k, v in (self.properties or {}).items() if k in PackageOrigin.model_fields}
        try:
            return PackageOrigin.model_validate(known)
        except ValueError:
            return PackageOrigin.model_validate(
                {k: v for k, v in known.items() if isinstance(v, str)})


class PackageOrigin(_M):
    """Where a component's version comes from when a package database lists it (Component.properties,
    published names): what the vulnerability matcher, the distro rule-out and VEX keys read."""

    package_db: str | None = None  # dpkg, opkg, apk, rpm, buildroot, yocto
    distro: str | None = None  # e.g. debian, openwrt
    distro_codename: str | None = None  # e.g. bookworm (os-release)
    distro_release: str | None = None  # e.g. 12
    distro_version: str | None = None  # the package's full version as the distro writes it
    package_version: str | None = None  # the version the vulns stage matches
    source_package: str | None = None
    source_version: str | None = None
    arch: str | None = None
    homepage: str | None = None
    cpe_product: str | None = None  # the signature rule's CPE product, when a rule named it
    product: str | None = None  # the rule's product name


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


class ImageInfo(_M):
    path: str
    name: str
    sha256: str
    sha512: str | None = None
    size: int
    container_chain: list[ContainerNode] = Field(default_factory=list)
    # set by unpack: False when no container, filesystem or kernel was found in it (scanned as one blob)
    opened: bool | None = None
    entropy: dict[str, Any] | None = None  # per region, for an image that was not opened (unpack.blob)
    likely_cause: str | None = None  # why it was not opened: encrypted / compressed / unknown_format
    magic: str | None = None  # libmagic's description of an image that was not opened


class ToolInfo(_M):
    name: str = "firmpass"
    version: str
    started: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    finished: str | None = None
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-stage timing / status / data dates


# ---------------------------------------------------------------- typed sections of ScanResult.extra
# findings.json keeps the published names (extra.kernel, extra.hardening, ...).  Each known section is
# validated through its model when a result is built or loaded, and stored back as the same dict
# (only the keys that were there: `exclude_unset`), so readers of the dicts keep working; a section an
# older or hand-edited file wrote in another shape is kept as it was rather than losing the file.
# `ScanResult.section(name)` gives the typed view.
SCHEMA_VERSION = 2  # 1: findings.json written before schema_version existed (same sections, untyped extra)


class InventorySummary(_M):
    hashed: int = 0  # files hashed
    elf: int = 0  # of them ELF files


class KernelFacts(_M):
    version: str | None = None  # upstream version, e.g. 6.1.192
    release: str | None = None  # the kernel's own release string, e.g. 6.1.0-57-cloud-amd64
    config: dict[str, str] | None = None  # CONFIG_* from /boot/config-* or the embedded ikconfig
    modules: list[str] = Field(default_factory=list)  # kernel modules found (paths)


class BusyboxFacts(_M):
    version: str | None = None
    applets: list[str] = Field(default_factory=list)  # applets compiled in


class VulnDbSummary(_M):
    path: str | None = None  # the store the scan matched against (as shown to the user)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)  # feed -> records, last_update, data_date
    counts: dict[str, Any] = Field(default_factory=dict)
    empty: bool = True
    matched: dict[str, Any] | None = None  # total and by VEX state


class HardeningSummary(_M):
    elf_count: int = 0
    executables: int = 0
    nx: int = 0
    pie: int = 0
    relro_full: int = 0
    relro_partial: int = 0
    canary: int = 0
    canary_unknown: int = 0  # static binaries without a symbol table: cannot tell
    fortify: int = 0
    stripped: int = 0
    rpath: int = 0
    static: int = 0
    files: dict[str, dict[str, Any]] = Field(default_factory=dict)  # path -> its facts


class SecureBootSummary(_M):
    verdict: str = "unknown"  # signed / unsigned / signed_no_key / verification_disabled / unknown ...
    images: list[dict[str, Any]] = Field(default_factory=list)  # per boot image: kind, verdict, locations


class ChecksRun(RootModel[list[str]]):
    """The ids of the checks that ran to completion (extra.checks_run: a JSON list of ids): the assess
    stage counts "ran and found nothing" only for these."""

    def __iter__(self):  # the ids, as the published list reads
        return iter(self.root)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self.root

    def __len__(self) -> int:
        return len(self.root)


class RtosHit(_M):
    """One real-time OS the identify stage named from a blob's strings (extra.rtos)."""
    name: str
    version: str | None = None
    evidence: str = ""  # the string that matched
    path: str = ""  # the blob, as stored in the image
    container: str = ""  # ContainerNode.id


class UpdaterFacts(_M):
    """An update mechanism the checks stage found (extra.checks_updates)."""
    updater: str
    files: list[str] = Field(default_factory=list)
    signature_verification: bool | None = None  # None: a web upload handler, not decidable from its files
    anti_rollback: bool = False
    ab_or_recovery: bool = False
    urls: list[str] = Field(default_factory=list)


class RemoteLog(_M):
    path: str
    line: int
    target: str  # host:port the logs go to
    via: str  # e.g. "syslogd -R", "syslog-ng"
    container: str = ""


class LocalLog(_M):
    path: str
    target: str  # the file the logs are written to


class LogDaemon(_M):
    path: str
    line: int
    command: str


class LoggingFacts(_M):
    """Where the firmware's logs go (extra.checks_logging)."""
    remote: list[RemoteLog] = Field(default_factory=list)
    local: list[LocalLog] = Field(default_factory=list)
    daemons: list[LogDaemon] = Field(default_factory=list)


class ServiceStart(_M):
    """A network service the boot sequence starts, with the file and line that start it (extra.checks_services)."""
    service: str
    class_: str = Field(alias="class")  # cleartext / ssh / web / ... (checks/services.py)
    path: str
    line: int
    command: str = ""
    via: str = ""  # init-script / inittab / systemd ...
    container: str = ""
    chain: list[str] = Field(default_factory=list)  # path:line of each script on the way


EXTRA_SECTIONS: dict[str, Any] = {
    "inventory": InventorySummary, "kernel": KernelFacts, "busybox": BusyboxFacts, "vuln_db": VulnDbSummary,
    "hardening": HardeningSummary, "secure_boot": SecureBootSummary, "checks_run": ChecksRun,
    "rtos": list[RtosHit], "checks_updates": list[UpdaterFacts], "checks_logging": LoggingFacts,
    "checks_services": list[ServiceStart],
}


@lru_cache(maxsize=None)
def _adapter(name: str):
    from pydantic import TypeAdapter

    return TypeAdapter(EXTRA_SECTIONS[name])


def _typed_section(name: str, value: Any) -> Any:
    """Validate a known section through its type and give it back in its published (JSON) shape."""
    from pydantic import ValidationError

    ta = _adapter(name)
    try:
        return ta.dump_python(ta.validate_python(value), exclude_unset=True, by_alias=True)
    except ValidationError:
        return value  # an older or foreign shape: kept, never the reason a findings.json does not load


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
        return {k: (_typed_section(k, x) if k in EXTRA_SECTIONS else x) for k, x in v.items()}

    def section(self, name: str) -> Any:
        """The typed view of a known extra section (None when absent or not in the known shape)."""
        value = self.extra.get(name)
        if value is None:
            return None
        from pydantic import ValidationError

        try:
            return _adapter(name).validate_python(value)
        except ValidationError:
            return None

    def to_json(self) -> str:
        try:
            return self.model_dump_json(indent=2, exclude_none=False)
        except Exception:  # noqa: BLE001 - a name from the image that is not UTF-8 somewhere: never lose the file
            import json

            return json.dumps(_valid_text(self.model_dump(mode="json")), indent=2, ensure_ascii=False)


# ------------------------------------------------------------------ assessment.json (stage assess)
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
