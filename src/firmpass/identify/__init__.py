"""identify stage: every component and exact version in the image, with its evidence.

Sources: package databases (dpkg, opkg, apk, rpm sqlite, Buildroot/Yocto manifests), binary
signatures (rules/signatures.yaml, see signatures.py), ELF packaging notes (.note.package JSON),
the Linux kernel (image header / banner / compressed payload, modules' vermagic, uImage name),
BusyBox applets, library file names through a table of the releases that ship them (releases.py:
libnettle.so.8.6 is nettle 3.8.1, a name several releases ship gives no version), symbol version nodes
(GLIBC_2.36: a lower bound, never a version), shared libraries by SONAME, and the strings of blobs no handler opened (signature
banners, a raw kernel banner, the RTOS rules of rules/rtos.yaml).  Results are merged into one component per
(name, version); the evidence lists every path and container (a rootfs copied three times into one
image gives one component with three pieces of evidence).  Every ELF's DT_NEEDED entries become
dependencies on the components providing those SONAMEs.  A weak signal is kept with a low
confidence, never dropped.

A file that gives only a weak signal (its name, its SONAME, the directory it sits in) folds into the
component that owns it when one is known: a file listed in a package's dpkg / opkg file list belongs to
that package; an unversioned library or a plugin in a product's plugin directory belongs to the one
versioned component of that product in the same filesystem (see resolve_weak).  Only what no owner
claims stands alone, as a weak, version-less component named by its SONAME.
"""
from __future__ import annotations

import re
from typing import Any

from packageurl import PackageURL

from firmpass.context import ScanContext
from firmpass.errors import DeadlineReached
from firmpass.formats import elf as elfr
from firmpass.identify.common import STAGE, _Builder, rule_for_package
from firmpass.identify.files import FileSources
from firmpass.identify.kernels import KernelSources
from firmpass.identify.packages import PackageSources
from firmpass.identify.signatures import Match, Rule
from firmpass.identify.weak import WeakSignals
from firmpass.model import Component, FileEntry

__all__ = ["STAGE", "identify", "rule_for_package", "run"]


class _Identifier(PackageSources, FileSources, KernelSources, WeakSignals):
    def __init__(self, ctx: ScanContext):
        self.ctx = ctx
        self.comps: dict[tuple[str, str | None], _Builder] = {}
        self.file_comp: dict[tuple[str, str], tuple[str, str | None]] = {}  # (container, path) -> key
        self.dyn: dict[tuple[str, str], elfr.ElfFacts] = {}
        self.text_cache: dict[str, tuple[str, elfr.ElfFacts | None]] = {}
        self.match_cache: dict[tuple[str, str, tuple[str, ...]], list[Match]] = {}  # (sha256, name, dir owners)
        self.pkg_by_rule: dict[tuple[str, str], list[_Builder]] = {}  # (rule id, upstream) -> package comps
        self.pkg_by_stem: dict[tuple[str, str], _Builder] = {}  # (container, stem) -> package comp
        # (container, path) -> (package comp key, path as the list has it, db): files of a package's file list
        self.pkg_listed: dict[tuple[str, str], tuple[tuple[str, str | None], str, str]] = {}
        self.busybox: dict[str, Any] | None = None
        self.kernel: dict[str, Any] | None = None
        self.modules: list[str] = []
        self.kernel_config: dict[str, str] | None = None
        self.weak_product: dict[tuple[str, str], Rule] = {}
        self.floor: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}  # (container, path) -> symbol_floor()
        self.needs_data: set[str] = set()
        self._pending_weak: list[tuple[FileEntry, list[Match]]] = []

    # ------------------------------------------------------------------ components
    def comp(self, name: str, version: str | None, rule: Rule | None = None, type_: str | None = None) -> _Builder:
        key = (name, version)
        b = self.comps.get(key)
        if b is None:
            b = _Builder(name=name, version=version, rule=rule, type=type_ or (rule.type if rule else "application"))
            if rule:
                b.supplier = rule.supplier
                # no version, no CPE: a wildcard-version CPE would match every CVE of the product
                b.cpe = rule.cpe23(version) if version else None
                if not version and rule.cpe:
                    b.properties["cpe_product"] = rule.cpe
                if rule.cpe_aliases:
                    b.properties["cpe_aliases"] = [
                        f"cpe:2.3:a:{a}:{(rule.cpe23(version) or '').split(':')[5]}:*:*:*:*:*:*:*" for a in rule.cpe_aliases]
                parts = rule.purl.split("/")
                ns = "/".join(parts[1:-1]) or None
                b.purl = PackageURL(type=parts[0], namespace=ns, name=parts[-1], version=version).to_string()
            self.comps[key] = b
        return b

    # ------------------------------------------------------------------ output
    def components(self) -> list[Component]:
        refs: dict[tuple[str, str | None], str] = {}
        used: set[str] = set()
        for key, b in sorted(self.comps.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            base = re.sub(r"[^A-Za-z0-9._+\-@]", "-", f"{b.name}@{b.version or 'unknown'}")
            ref, n = base, 1
            while ref in used:
                n += 1
                ref = f"{base}-{n}"
            used.add(ref)
            refs[key] = ref
        out = []
        for key, b in sorted(self.comps.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            hashes = {}
            if b.main is not None:
                if b.main.sha256:
                    hashes["sha256"] = b.main.sha256
                if b.main.sha512:
                    hashes["sha512"] = b.main.sha512
                b.properties.setdefault("main_file", b.main.path)
            if b.rule is not None:
                b.properties.setdefault("rule", b.rule.id)
            if b.confidence < 0.5:
                b.properties["weak"] = True
            out.append(Component(
                bom_ref=refs[key], name=b.name, version=b.version, type=b.type, supplier=b.supplier, cpe=b.cpe,
                purl=b.purl, licenses=b.licenses, confidence=round(b.confidence, 2), evidence=b.evidence,
                files=b.files, hashes=hashes, dependencies=sorted(refs[d] for d in b.deps if d in refs and d != key),
                properties=b.properties))
        return out


def identify(ctx: ScanContext, use_package_db: bool = True) -> list[Component]:
    """Run every identification source over ctx.result.files; returns the merged components
    and fills ctx.result.extra["busybox"] / ["kernel"]."""
    idf = _Identifier(ctx)
    stopped: DeadlineReached | None = None
    try:
        if use_package_db:
            idf.package_dbs()
        idf.scan_files()
        idf.kernel_from_containers()
        idf.scan_blobs()
        idf.kernel_from_modules_dir()
        idf.resolve_weak()
        idf.sonames()
        idf.symbol_floors()
        idf.package_file_evidence()
        idf.dependencies()
    except DeadlineReached as e:
        stopped = e  # the scan's deadline: what was identified so far is still built and kept
    if idf.busybox is not None:
        ctx.result.extra["busybox"] = {"version": idf.busybox["version"], "applets": idf.busybox["applets"]}
    if idf.kernel is not None or idf.modules:
        k = dict(idf.kernel or {})
        k.pop("_conf", None)
        ctx.result.extra["kernel"] = {"version": k.get("version"), "release": k.get("release"),
                                      "config": idf.kernel_config, "modules": sorted(idf.modules)}
    comps = idf.components()
    if idf.busybox is not None:
        for c in comps:
            if c.name == "busybox" and c.version == idf.busybox["version"]:
                c.properties["applets"] = idf.busybox["applets"]
                c.properties["applet_count"] = len(idf.busybox["applets"])
    if stopped is not None:
        stopped.partial = comps
        raise stopped
    return comps


def run(ctx: ScanContext) -> None:
    try:
        ctx.result.components = identify(ctx)
    except DeadlineReached as e:
        ctx.result.components = list(e.partial or [])
        ctx.result.tool.stages.setdefault(STAGE, {})["components"] = len(ctx.result.components)
        raise
    ctx.result.tool.stages.setdefault(STAGE, {})["components"] = len(ctx.result.components)
