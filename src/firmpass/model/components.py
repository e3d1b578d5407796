"""What identify hands to vulns and sbom: the components, how each was recognised, and where a
packaged component's version comes from (findings.json `components`)."""
from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import Field

from .base import _M


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
