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

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from firmpass.context import ScanContext
from firmpass.errors import DeadlineReached
from firmpass.i18n import msg
from firmpass.identify import busybox as bb
from firmpass.formats import elf as elfr
from firmpass.formats import kernel as kern
from firmpass.identify import pkgdb
from firmpass.identify.kernels import MAX_SCAN_BYTES, KernelSources
from firmpass.identify import releases
from firmpass.identify import rtos as rtos_rules
from firmpass.identify.signatures import (Match, Rule, any_files_rx, dir_owners, load_rules, match_file, rules_by_id,
                                          version_strings)
from firmpass.model import Component, ComponentEvidence, FileEntry

STAGE = "identify"
_PKG_NOTE = re.compile(r'^\{"type":"(deb|rpm|apk|alpm|ebuild)".*\}$', re.M)


@dataclass
class _Builder:
    name: str
    version: str | None
    type: str = "application"
    rule: Rule | None = None
    supplier: str | None = None
    cpe: str | None = None
    purl: str | None = None
    licenses: list[str] = field(default_factory=list)
    confidence: float = 0.0
    evidence: list[ComponentEvidence] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    main: FileEntry | None = None
    main_rank: int = 9
    deps: set = field(default_factory=set)  # builder keys
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.version)

    def add(self, ev: ComponentEvidence, conf: float, entry: FileEntry | None = None, rank: int = 5) -> None:
        if not any(e.path == ev.path and e.container == ev.container and e.method == ev.method for e in self.evidence):
            self.evidence.append(ev)
        self.confidence = max(self.confidence, conf)
        if entry is not None:
            if entry.path not in self.files:
                self.files.append(entry.path)
            if rank < self.main_rank:
                self.main, self.main_rank = entry, rank


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _stem(soname_or_pkg: str) -> str:
    """libnl-genl-3.so.200 -> libnlgenl3 ; libnl-genl-3-200 -> libnlgenl3 ; libbrotli1 -> libbrotli"""
    s = soname_or_pkg.split(".so")[0]
    s = re.sub(r"(?<=[a-z])-?\d+(?:[.-]\d+)*$", "", s) if ".so" not in soname_or_pkg else s
    return _norm(s)


def _distro(db: str, p: pkgdb.Package) -> str | None:
    """The distribution whose security data applies to a package (its fixes are per distro revision)."""
    text = f"{p.version} {p.maintainer or ''}".lower()
    if db == "dpkg":
        return "ubuntu" if "ubuntu" in text else ("raspbian" if "raspbian" in text else "debian")
    return {"apk": "alpine", "opkg": "openwrt"}.get(db)


def rule_for_package(name: str, source: str | None) -> Rule | None:
    by_id = rules_by_id()
    n = _norm(name)
    for r in load_rules():
        if _norm(r.name) == n or _norm(r.id) == n:
            return r
    cands = [r for r in load_rules() if source and source in r.debian]
    if not cands:
        return None
    for r in cands:
        if n.startswith(_norm(r.name)) or n.startswith(_norm(r.id)):
            return r
    return cands[0] if len(cands) == 1 or not by_id else cands[0]


class _Identifier(KernelSources):
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

    # ------------------------------------------------------------------ package databases
    def package_dbs(self) -> None:
        for cont in self.ctx.filesystems():
            for path, (db, parser) in pkgdb.DB_PATHS.items():
                ent = self.ctx.lookup(path, cont)
                if ent is None or ent.type != "file":
                    continue
                try:
                    pkgs = parser(self.ctx.read_text(ent, 64 << 20))
                except Exception as e:  # noqa: BLE001
                    self.ctx.warn(STAGE, "pkgdb_unreadable", msg("identify.pkgdb_unreadable", path=path, detail=str(e)), cont)
                    continue
                self._add_packages(pkgs, ent, cont, db)
            for ent in self.ctx.result.files:
                if ent.container != cont or ent.type != "file":
                    continue
                base = posixpath.basename(ent.path)
                try:
                    if base == "rpmdb.sqlite":
                        disk = self.ctx.disk(ent)
                        if disk is not None and disk.is_file() and not disk.is_symlink():
                            # opened in place under OUT, read-only, bounded by the scan deadline
                            self._add_packages(pkgdb.parse_rpm_sqlite(disk, self.ctx.deadline), ent, cont, "rpm")
                    elif base in ("Packages", "Packages.db") and "/rpm" in ent.path:
                        self.ctx.warn(STAGE, "rpm_bdb", msg("identify.rpm_bdb", path=ent.path), cont)
                    elif base == "manifest.csv" and "legal-info" in ent.path:
                        self._add_packages(pkgdb.parse_buildroot_manifest(self.ctx.read_text(ent)), ent, cont, "buildroot")
                    elif base.endswith(".manifest") and ("/etc/" in ent.path or "/usr/share/" in ent.path):
                        self._add_packages(pkgdb.parse_yocto_manifest(self.ctx.read_text(ent)), ent, cont, "yocto")
                except Exception as e:  # noqa: BLE001
                    self.ctx.warn(STAGE, "pkgdb_unreadable", msg("identify.pkgdb_unreadable", path=ent.path, detail=str(e)), cont)

    def _add_packages(self, pkgs: list[pkgdb.Package], ent: FileEntry, cont: str, db: str) -> None:
        names = {}
        for p in pkgs:
            rule = rule_for_package(p.name, p.source)
            b = self.comp(p.name, p.upstream, rule, type_="library" if p.name.startswith("lib") else None)
            if rule is not None:
                b.properties["product"] = rule.name
            if rule is None:
                b.purl = None
            b.purl = self._pkg_purl(p, db) or b.purl
            b.properties.setdefault("package_db", db)
            b.properties.setdefault("distro_version", p.version)
            b.properties.setdefault("package_version", p.version)  # the vulns stage reads this name
            distro = _distro(db, p)
            if distro:
                b.properties.setdefault("distro", distro)
            if p.source:
                b.properties.setdefault("source_package", p.source)
            if p.source_version:
                b.properties.setdefault("source_version", p.source_version)
            if p.arch:
                b.properties.setdefault("arch", p.arch)
            if p.maintainer:
                b.supplier = p.maintainer
            if p.homepage:
                b.properties.setdefault("homepage", p.homepage)
            lic = [p.license] if p.license else self._copyright(p.name, cont)
            for lc in lic:
                if lc not in b.licenses:
                    b.licenses.append(lc)
            b.add(ComponentEvidence(path=ent.path, method=f"{db}-status" if db in ("dpkg", "opkg") else f"{db}-db",
                                    match=f"{p.name} {p.version}", container=cont), 1.0)
            for f in p.files:
                if f not in b.files:
                    b.files.append(f)
                self.file_comp.setdefault((cont, f), b.key)
            if db in ("dpkg", "opkg"):
                self._package_file_list(b, p, ent, cont, db)
            b.properties["_depends"] = p.depends
            names[p.name] = b
            if rule is not None:
                self.pkg_by_rule.setdefault((rule.id, p.upstream), []).append(b)
            self.pkg_by_stem.setdefault((cont, _stem(p.name)), b)
        for b in names.values():
            for d in b.properties.pop("_depends", []):
                if d in names and names[d] is not b:
                    b.deps.add(names[d].key)

    def _package_file_list(self, b: _Builder, p: pkgdb.Package, status: FileEntry, cont: str, db: str) -> None:
        """The files a dpkg / opkg package installed (<db dir>/info/<package>[:<arch>].list): each one present
        in this filesystem is a file of the package's component."""
        info = posixpath.join(posixpath.dirname(status.path), "info")
        names = [f"{p.name}.list"] + ([f"{p.name}:{p.arch}.list"] if p.arch else [])
        for n in names:
            lst = self.ctx.lookup(posixpath.join(info, n), cont)
            if lst is None or lst.type != "file":
                continue
            try:
                listed = pkgdb.parse_file_list(self.ctx.read_text(lst, 16 << 20))
            except OSError as e:
                self.ctx.warn(STAGE, "pkgdb_unreadable", msg("identify.pkgdb_unreadable", path=lst.path, detail=str(e)), cont)
                continue
            for lp in listed:
                fe = self.ctx.lookup(lp, cont, follow=False)  # parent directories resolved (/lib -> usr/lib)
                if fe is None or fe.type not in ("file", "symlink"):
                    continue
                if fe.path not in b.files:
                    b.files.append(fe.path)
                if self.file_comp.setdefault((cont, fe.path), b.key) == b.key:
                    self.pkg_listed.setdefault((cont, fe.path), (b.key, lp, db))

    def _pkg_purl(self, p: pkgdb.Package, db: str) -> str | None:
        qual = {"arch": p.arch} if p.arch else {}
        if db == "dpkg":
            ns = "debian"
            if p.source and p.source != p.name:
                qual["upstream"] = p.source
            return PackageURL(type="deb", namespace=ns, name=p.name, version=p.version, qualifiers=qual or None).to_string()
        if db == "opkg":
            return PackageURL(type="generic", namespace="openwrt", name=p.name, version=p.version, qualifiers=qual or None).to_string()
        if db == "apk":
            return PackageURL(type="apk", namespace="alpine", name=p.name, version=p.version, qualifiers=qual or None).to_string()
        if db == "rpm":
            return PackageURL(type="rpm", name=p.name, version=p.version, qualifiers=qual or None).to_string()
        return PackageURL(type="generic", name=p.name, version=p.version).to_string()

    def _copyright(self, pkg: str, cont: str) -> list[str]:
        ent = self.ctx.lookup(f"/usr/share/doc/{pkg}/copyright", cont)
        if ent is None or ent.type != "file":
            return []
        try:
            return pkgdb.debian_copyright_license(self.ctx.read_text(ent, 1 << 20))
        except OSError:
            return []

    # ------------------------------------------------------------------ binaries
    def _want(self, f: FileEntry, head: bytes) -> bool:
        return head[:4] == b"\x7fELF" or kern.looks_like_kernel(posixpath.basename(f.path), head)

    def scan_files(self) -> None:
        name_rx = any_files_rx()
        for f in self.ctx.iter_files(("file",)):
            self.ctx.checkpoint()
            if f.disk_path is None or f.size == 0 or f.size > MAX_SCAN_BYTES:
                continue
            base = posixpath.basename(f.path)
            is_elf = f.elf is not None
            if not is_elf and not name_rx.search(base) and not kern.is_module(f.path) \
                    and not f.path.startswith("/boot/config-"):
                # cheap sniff: ELF or kernel header
                try:
                    head = self.ctx.read(f, 0x210)
                except OSError:
                    continue
                if not self._want(f, head):
                    continue
            if (f.sha256 and f.sha512 and f.sha256 in self.text_cache and f.sha256 not in self.needs_data
                    and not kern.is_module(f.path)):
                # the same content was scanned in another filesystem (a rootfs copied into the image
                # several times): its strings and ELF data are cached, only the evidence is added
                self._scan_one(f, base, b"")
                continue
            try:
                data = self.ctx.read(f, MAX_SCAN_BYTES)
            except OSError as e:
                self.ctx.warn(STAGE, "unreadable", msg("identify.unreadable", path=f.path, detail=str(e)), f.container)
                continue
            if f.sha256 is None:
                f.sha256 = hashlib.sha256(data).hexdigest()
            if f.sha512 is None:
                f.sha512 = hashlib.sha512(data).hexdigest()
            self._scan_one(f, base, data)

    def _scan_one(self, f: FileEntry, base: str, data: bytes) -> None:
        cached = self.text_cache.get(f.sha256)
        if cached is None:
            dyn = elfr.facts_for(self.ctx, f.sha256, data)
            cached = (version_strings(elfr.data_view(data, dyn)), dyn)
            self.text_cache[f.sha256] = cached
        text, dyn = cached
        if data and (data[0x202:0x206] == b"HdrS" or kern.looks_like_kernel(base, data[:0x210])
                     or kern.is_module(f.path) or f.path.startswith("/boot/config-")):
            self.needs_data.add(f.sha256)  # kernel evidence reads the content again for each copy
        if dyn is not None:
            self.dyn[(f.container, f.path)] = dyn
        dirname = posixpath.dirname(f.path)
        mk = (f.sha256, base, tuple(r.id for r in dir_owners(dirname)))
        matches = self.match_cache.get(mk)
        if matches is None:
            matches = match_file(base, text, needed=dyn.needed if dyn is not None else None, dirname=dirname)
            self.match_cache[mk] = matches
        primary: _Builder | None = None
        # symbol version nodes the library defines (GLIBC_2.36, OPENSSL_3.0.9): its product is at least that
        # release; a version found for that product in the same file but older contradicts them and is dropped
        floor = releases.symbol_floor(dyn.verdefs) if dyn is not None and dyn.verdefs else {}
        if floor:
            self.floor[(f.container, f.path)] = floor
            matches = [m for m in matches if not (m.version and m.rule.id in floor
                                                   and releases.below_floor(m.version, floor[m.rule.id][0]))]
        # a name-only signal counts for executables and libraries, not for /etc/passwd
        owned_weak = [m for m in matches if m.version is None] if dyn is not None else []
        for m in sorted(matches, key=lambda m: (not m.owned, -m.confidence)):
            if m.version is None:
                continue
            if m.rule.id == "linux_kernel":
                continue  # the kernel path below reads the header / payload properly
            b = self._attach_rule(m.rule, m.version, f)
            b.add(ComponentEvidence(path=f.path, method=m.method, match=m.text, rule=m.rule.id, container=f.container),
                  m.confidence, f, rank=0 if m.owned else 3)
            if primary is None and (m.owned or not any(x.owned for x in matches)):
                primary = b
        # packaging metadata note (systemd, ... built with --package-metadata)
        for nm in _PKG_NOTE.finditer(text):
            try:
                note = json.loads(nm.group(0))
            except ValueError:
                continue
            if not note.get("name") or not note.get("version"):
                continue
            up = pkgdb.debian_upstream(str(note["version"])) if note.get("type") == "deb" else str(note["version"])
            rule = rule_for_package(str(note["name"]), str(note["name"]))
            b = self._attach_rule(rule, up, f) if rule else self.comp(str(note["name"]), up)
            b.properties.setdefault("distro_version", note["version"])
            b.properties.setdefault("package_version", note["version"])
            if note.get("os"):
                b.properties.setdefault("distro", str(note["os"]).lower())
            b.add(ComponentEvidence(path=f.path, method="elf-package-note", match=nm.group(0)[:200], container=f.container),
                  0.9, f, rank=0)
            primary = primary or b
        # kernel
        if data[0x202:0x206] == b"HdrS" or kern.looks_like_kernel(base, data[:0x210]):
            kv = kern.kernel_version(data)
            if kv:
                primary = self._kernel(kv, f.path, f.container, f) or primary
                self.kernel_config = self.kernel_config or kern.ikconfig(data)
        if f.path.startswith("/boot/config-") or base == "kernel-config":
            self.kernel_config = self.kernel_config or kern.parse_config(data[: 4 << 20].decode("utf-8", "replace")) or None
        if kern.is_module(f.path):
            tag = kern.module_tag(data)
            if tag:
                self.modules.append(f.path)
                m = kern.RELEASE.match(tag[1])
                if m:
                    self._kernel({"version": m.group(1), "release": tag[1].split()[0], "method": tag[0]}, f.path,
                                 f.container, None, conf=0.6, match=f"{tag[0]}={tag[1]}")
        # busybox applets
        if any(m.rule.id == "busybox" for m in matches) and self.busybox is None:
            apps = bb.applets(data)
            bm = next(m for m in matches if m.rule.id == "busybox")
            self.busybox = {"version": bm.version, "applets": apps, "path": f.path}
        if primary is None and owned_weak:
            # a name- or directory-only signal: attach to the product's versioned component in this filesystem
            # if there is one, else keep it as a weak, version-less component
            self._pending_weak.append((f, owned_weak))
        if primary is not None:
            self.file_comp[(f.container, f.path)] = primary.key

    _pending_weak: list

    def _attach_rule(self, rule: Rule, version: str, f: FileEntry | None) -> _Builder:
        """The component for a rule match: a package-db component of that product and version when there is one."""
        pk = self.pkg_by_rule.get((rule.id, version))
        if pk:
            if f is not None and len(pk) > 1:
                stem = _stem(posixpath.basename(f.path))
                for b in pk:
                    s = _stem(b.name)
                    if stem.startswith(s) or s.startswith(stem):
                        return b
                for b in pk:
                    if _norm(b.name) == _norm(rule.name):
                        return b
            return pk[0]
        return self.comp(rule.name, version, rule)

    def scan_blobs(self) -> None:
        """Blobs: parts no handler opened (format "data": the image itself when it could not be opened, a
        carved part, a decompressed stream, a file of an archive that looks like an image but was not
        understood).  Their strings are matched against the signature rules (self-identifying banners:
        a blob has no file name that could own a product), a raw Linux banner is looked for, and the
        RTOS rules name the operating system (rules/rtos.yaml).  Read up to MAX_SCAN_BYTES each."""
        seen: set[str] = set()
        found: list[dict[str, Any]] = []
        for node in self.ctx.result.image.container_chain:
            self.ctx.checkpoint()
            if node.format != "data" or not node.blob:
                continue
            p = Path(node.blob) if node.blob.startswith("/") else self.ctx.out / node.blob
            try:
                with open(p, "rb") as fh:
                    data = fh.read(MAX_SCAN_BYTES)
            except OSError:
                continue
            if not data:
                continue
            h = hashlib.sha256(data).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            if node.id == "0":
                path = "/" + self.ctx.result.image.name
            else:
                path = node.source_path or f"/{node.format}-{node.id}"
            fe = FileEntry(path=path, container=node.id, type="file", size=len(data), sha256=h,
                           sha512=hashlib.sha512(data).hexdigest())
            for m in match_file(posixpath.basename(path), version_strings(data)):
                if m.version is None or m.method != "signature-banner" or m.rule.id == "linux_kernel":
                    continue
                b = self._attach_rule(m.rule, m.version, None)
                b.add(ComponentEvidence(path=path, method=m.method, match=m.text, rule=m.rule.id, container=node.id),
                      min(m.confidence, 0.8), fe, rank=3)
            kv = kern.kernel_version(data, decompress=False)
            if kv:
                self._kernel(kv, path, node.id, None, blob=data)
            for r in rtos_rules.detect(rtos_rules.strings(data)):
                b = self.comp(r.name, r.version, None, type_="operating-system")
                b.supplier = r.supplier
                b.purl = PackageURL(type="generic", name=r.id, version=r.version).to_string()
                if r.cpe and r.version:
                    vendor, product = r.cpe.split(":", 1)
                    b.cpe = f"cpe:2.3:o:{vendor}:{product}:{r.version}:*:*:*:*:*:*:*"
                elif r.cpe:
                    b.properties["cpe_product"] = r.cpe
                b.properties["rtos_rule"] = r.id
                b.add(ComponentEvidence(path=path, method="rtos-string", match=r.evidence, rule=f"rtos:{r.id}",
                                        container=node.id), 0.9 if r.version else 0.7, fe, rank=2)
                found.append({"name": r.name, "version": r.version, "evidence": r.evidence, "path": path,
                              "container": node.id})
        if found:
            self.ctx.result.extra["rtos"] = found

    _MODULES_DIR = re.compile(r"^/(?:usr/)?lib/modules/(\d+\.\d+(?:\.\d+)?)([^/]*)/.+\.ko$")

    # ------------------------------------------------------------------ weak signals and shared libraries
    def resolve_weak(self) -> None:
        for f, weak in self._pending_weak:
            if (f.container, f.path) in self.file_comp:
                continue  # a package's file list claims it (evidence added by package_file_evidence)
            same_by_rule = {m.rule.id: [b for b in self.comps.values() if b.rule is not None and b.rule.id == m.rule.id
                                        and b.version and any(e.container == f.container for e in b.evidence)]
                            for m in weak}
            having = [m for m in weak if same_by_rule[m.rule.id]]
            if len(having) == 1:
                m = having[0]
            elif len(weak) == 1:
                m = weak[0]
            else:  # a name several products use, with no version: too ambiguous to claim
                continue
            b = self._owner(same_by_rule[m.rule.id], m.rule, posixpath.basename(f.path))
            if b is not None:
                # the file folds into its product's component: a file and a piece of evidence of it
                b.add(ComponentEvidence(path=f.path, method=f"{m.method}+sibling", match=m.text,
                                        rule=m.rule.id, container=f.container), b.confidence, f, rank=4)
            else:
                dyn = self.dyn.get((f.container, f.path))
                if dyn is not None and dyn.soname:
                    self.weak_product[(f.container, f.path)] = m.rule
                    continue  # the SONAME pass names it; the product it probably belongs to goes in properties
                b = self.comp(m.rule.name, None, m.rule)
                b.add(ComponentEvidence(path=f.path, method=m.method, match=m.text,
                                        rule=m.rule.id, container=f.container), 0.3, f, rank=4)
            self.file_comp[(f.container, f.path)] = b.key

    @staticmethod
    def _owner(cands: list[_Builder], rule: Rule, basename: str = "") -> _Builder | None:
        """The component a weak file of `rule`'s product folds into: the only versioned component of the
        product in the filesystem; among several package components of one product and version (Debian
        splits krb5 into libkrb5-3, libk5crypto3, ...) the one named after the product.  Two versions
        of the product: None (which one the file belongs to is unknown)."""
        if len(cands) == 1:
            return cands[0]
        if not cands or len({b.version for b in cands}) != 1:
            return None
        # the package named after the file (libhogweed.so.6.6 -> libhogweed6, libk5crypto.so.3.1 -> libk5crypto3)
        # (the longest package stem the file's stem starts with: libnl-genl-3.so -> libnl-genl-3-200, not libnl-3-200)
        stem = _stem(basename) if basename else ""
        by_file = sorted(((len(_stem(b.name)), b.name, b) for b in cands
                          if stem and len(_stem(b.name)) >= 5 and stem.startswith(_stem(b.name))), key=lambda t: t[:2])
        if by_file and (len(by_file) == 1 or by_file[-1][0] > by_file[-2][0]):
            return by_file[-1][2]
        names = {_norm(rule.name), _norm(rule.id)}
        named = [b for b in cands if any(_norm(b.name).removeprefix("lib").startswith(n) for n in names)]
        # libkrb5-3 over libkrb5support0: the shortest name that starts with the product's
        return min(named or cands, key=lambda b: (len(b.name), b.name))

    def sonames(self) -> None:
        for (cont, path), dyn in self.dyn.items():
            if (cont, path) in self.file_comp or not dyn.soname:
                continue
            f = self.ctx.lookup(path, cont, follow=False)
            stem = _stem(dyn.soname)
            pk = None
            for (c, s), b in self.pkg_by_stem.items():
                if c == cont and s and (stem == s or (stem.startswith(s) and len(s) >= 5)):
                    pk = b
                    break
            if pk is not None:
                pk.add(ComponentEvidence(path=path, method="soname+package-name", match=dyn.soname, container=cont),
                       pk.confidence, f, rank=2)
                self.file_comp[(cont, path)] = pk.key
                continue
            name = dyn.soname.split(".so")[0]
            b = self.comp(name, None, None, type_="library")
            b.purl = PackageURL(type="generic", name=name).to_string()
            b.properties["soname"] = dyn.soname
            wr = self.weak_product.get((cont, path))
            if wr is not None:
                b.properties["product"] = wr.name
                b.properties["rule"] = wr.id
                if wr.cpe:
                    b.properties["cpe_product"] = wr.cpe
                b.supplier = b.supplier or wr.supplier
                rel = releases.release_for(wr.id, posixpath.basename(path))
                if rel is not None and rel.version is None:
                    # the releases known to ship this file name: which one it is stays open (not guessed)
                    b.properties["candidate_versions"] = ", ".join(rel.releases)
            b.add(ComponentEvidence(path=path, method="soname", match=dyn.soname, container=cont), 0.3, f, rank=1)
            self.file_comp[(cont, path)] = b.key

    def symbol_floors(self) -> None:
        """A library's symbol version nodes as evidence of the component that took the file: the release it
        is at least (`properties.version_at_least`), never a version."""
        for (cont, path), floor in self.floor.items():
            key = self.file_comp.get((cont, path))
            b = self.comps.get(key) if key else None
            if b is None:
                continue
            rid = b.rule.id if b.rule is not None else b.properties.get("rule")
            if rid not in floor:
                continue
            v, node = floor[rid]
            old = b.properties.get("version_at_least")
            if old is None or releases.nums(v) > releases.nums(old):
                b.properties["version_at_least"] = v
            b.add(ComponentEvidence(path=path, method="symbol-version", match=node, rule=rid, container=cont),
                  b.confidence)

    def package_file_evidence(self) -> None:
        """An ELF file that only a package's file list claims: evidence of that package (its own signals
        were weak or none), so the file shows as an occurrence of the package, not as a component."""
        for (cont, path) in self.dyn:
            listed = self.pkg_listed.get((cont, path))
            if listed is None or self.file_comp.get((cont, path)) != listed[0]:
                continue
            b = self.comps[listed[0]]
            if any(e.path == path and e.container == cont for e in b.evidence):
                continue
            b.add(ComponentEvidence(path=path, method=f"{listed[2]}-file-list", match=listed[1], container=cont),
                  b.confidence, self.ctx.lookup(path, cont, follow=False), rank=4)

    def dependencies(self) -> None:
        provider: dict[tuple[str, str], tuple[str, str | None]] = {}
        provider_any: dict[str, tuple[str, str | None]] = {}
        for (cont, path), dyn in self.dyn.items():
            key = self.file_comp.get((cont, path))
            if key is None:
                continue
            names = {posixpath.basename(path)}
            if dyn.soname:
                names.add(dyn.soname)
            for n in names:
                provider.setdefault((cont, n), key)
                provider_any.setdefault(n, key)
        # symlinked sonames (libfoo.so.1 -> libfoo.so.1.2.3)
        for ent in self.ctx.iter_files(("symlink",)):
            tgt = self.ctx.lookup(ent.path, ent.container)
            if tgt is not None:
                key = self.file_comp.get((tgt.container, tgt.path))
                if key is not None:
                    provider.setdefault((ent.container, posixpath.basename(ent.path)), key)
        for (cont, path), dyn in self.dyn.items():
            key = self.file_comp.get((cont, path))
            if key is None:
                continue
            for n in dyn.needed:
                dep = provider.get((cont, n)) or provider_any.get(n)
                if dep is not None and dep != key:
                    self.comps[key].deps.add(dep)

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
    idf._pending_weak = []
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
