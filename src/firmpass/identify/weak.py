"""Weak signals (a file's name, its directory, its SONAME), symbol version floors and dependencies: what
a file that shows no version of its own belongs to, and which component needs which.  A mixin of
identify's _Identifier."""
from __future__ import annotations

import posixpath

from packageurl import PackageURL

from firmpass.identify import releases
from firmpass.identify.common import _Builder, _norm, _stem
from firmpass.identify.signatures import Rule
from firmpass.model import ComponentEvidence


class WeakSignals:
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

