"""Package databases as identify sources (dpkg / opkg status and file lists, apk, rpm sqlite, Buildroot
and Yocto manifests): one component per package, its files, its PURL and licences.  A mixin of
identify's _Identifier (self.ctx, self.comp, self.file_comp, self.pkg_by_rule, ...)."""
from __future__ import annotations

import posixpath

from packageurl import PackageURL

from firmpass.i18n import msg
from firmpass.identify import pkgdb
from firmpass.identify.common import STAGE, _Builder, _stem, rule_for_package
from firmpass.model import ComponentEvidence, FileEntry
from firmpass.roots import find_roots


def _distro(db: str, p: pkgdb.Package) -> str | None:
    """The distribution whose security data applies to a package (its fixes are per distro revision)."""
    text = f"{p.version} {p.maintainer or ''}".lower()
    if db == "dpkg":
        return "ubuntu" if "ubuntu" in text else ("raspbian" if "raspbian" in text else "debian")
    return {"apk": "alpine", "opkg": "openwrt"}.get(db)



class PackageSources:
    def package_dbs(self) -> None:
        roots = find_roots(self.ctx.result.files)
        for cont in self.ctx.filesystems():
            # each root filesystem of the container (a rootfs tarball keeps its root in a subfolder)
            for pre in roots.get(cont, ("",)):
                for path, (db, parser) in pkgdb.DB_PATHS.items():
                    ent = self.ctx.lookup(pre + path, cont)
                    if ent is None or ent.type != "file":
                        continue
                    try:
                        pkgs = parser(self.ctx.read_text(ent, 64 << 20))
                    except Exception as e:  # noqa: BLE001
                        self.ctx.warn(STAGE, "pkgdb_unreadable", msg("identify.pkgdb_unreadable", path=ent.path,
                                                                     detail=str(e)), cont)
                        continue
                    self._add_packages(pkgs, ent, cont, db, pre)
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

    def _add_packages(self, pkgs: list[pkgdb.Package], ent: FileEntry, cont: str, db: str, pre: str = "") -> None:
        """One component per package; `pre` is the root filesystem the database belongs to ("" = the top),
        so the paths it lists (as the device sees them) are looked up under it."""
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
                f = pre + f
                if f not in b.files:
                    b.files.append(f)
                self.file_comp.setdefault((cont, f), b.key)
            if db in ("dpkg", "opkg"):
                self._package_file_list(b, p, ent, cont, db, pre)
            b.properties["_depends"] = p.depends
            names[p.name] = b
            if rule is not None:
                self.pkg_by_rule.setdefault((rule.id, p.upstream), []).append(b)
            self.pkg_by_stem.setdefault((cont, _stem(p.name)), b)
        for b in names.values():
            for d in b.properties.pop("_depends", []):
                if d in names and names[d] is not b:
                    b.deps.add(names[d].key)

    def _package_file_list(self, b: _Builder, p: pkgdb.Package, status: FileEntry, cont: str, db: str,
                           pre: str = "") -> None:
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
                fe = self.ctx.lookup(pre + lp, cont, follow=False)  # parent directories resolved (/lib -> usr/lib)
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
