"""Files as identify sources: each regular file worth reading (ELF, a kernel, a module, a kernel config,
a file some rule names) is matched against the signature rules, its packaging note read, the kernel and
BusyBox recognised; blobs no unpack handler opened are matched for banners, a raw kernel banner and the
RTOS rules.  A mixin of identify's _Identifier."""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from firmpass.formats import elf as elfr
from firmpass.formats import kernel as kern
from firmpass.i18n import msg
from firmpass.identify import busybox as bb
from firmpass.identify import espidf
from firmpass.identify import pkgdb, releases
from firmpass.identify import rtos as rtos_rules
from firmpass.identify.common import STAGE, _Builder, _norm, _stem, rule_for_package
from firmpass.identify.kernels import MAX_SCAN_BYTES
from firmpass.identify.signatures import Match, Rule, any_files_rx, dir_owners, match_file, version_strings
from firmpass.model import ComponentEvidence, FileEntry

_PKG_NOTE = re.compile(r'^\{"type":"(deb|rpm|apk|alpm|ebuild)".*\}$', re.M)


class FileSources:
    def _want(self, f: FileEntry, head: bytes) -> bool:
        return (head[:4] == b"\x7fELF" or kern.looks_like_kernel(posixpath.basename(f.path), head)
                or espidf.looks_like_app(head))

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
                data, view = self._read_for_scan(f, base)
            except OSError as e:
                self.ctx.warn(STAGE, "unreadable", msg("identify.unreadable", path=f.path, detail=str(e)), f.container)
                continue
            if f.sha256 is None:
                f.sha256 = hashlib.sha256(data).hexdigest()
            if f.sha512 is None:
                f.sha512 = hashlib.sha512(data).hexdigest()
            self._scan_one(f, base, data, view)

    def _read_for_scan(self, f: FileEntry, base: str) -> tuple[bytes, bytes | None]:
        """What is read of a file: (its content, None); for an ELF file whose data sections the inventory
        stage recorded (its facts cached by SHA-256, its hashes known), (its first 0x210 bytes, those
        sections as elfr.data_view joins them): the version strings are searched there only, and reading
        the code as well was most of identify's reading.  A kernel or a module is read whole."""
        facts = self.ctx.scratch.get("elf", {}).get(f.sha256) if f.elf is not None and f.sha256 and f.sha512 else None
        if (facts is None or not facts.data_ranges or kern.is_module(f.path) or f.path.startswith("/boot/config-")
                or base == "kernel-config"):
            return self.ctx.read(f, MAX_SCAN_BYTES), None
        self.ctx.checkpoint()
        fd = os.open(self.ctx.disk(f), os.O_RDONLY | os.O_NOFOLLOW)  # as ctx.read: never follow a link
        try:
            head = os.pread(fd, 0x210, 0)
            if head[0x202:0x206] == b"HdrS" or kern.looks_like_kernel(base, head):
                return os.pread(fd, MAX_SCAN_BYTES, 0), None
            return head, b"\0".join(os.pread(fd, max(0, z - a), a) for a, z in sorted(facts.data_ranges))
        finally:
            os.close(fd)

    def _scan_one(self, f: FileEntry, base: str, data: bytes, view: bytes | None = None) -> None:
        """One file's evidence (data is b"" for a copy of content already scanned: its text and ELF facts
        are cached by SHA-256; with `view`, data is the file's first bytes and view its data sections)."""
        text, dyn = self._text_and_facts(f, base, data, view)
        matches = self._matches(f, base, text, dyn)
        # a name-only signal counts for executables and libraries, not for /etc/passwd
        owned_weak = [m for m in matches if m.version is None] if dyn is not None else []
        primary = self._add_matches(f, matches)
        primary = self._package_notes(f, text, primary)
        primary = self._kernel_evidence(f, base, data, primary)
        if espidf.looks_like_app(data[:0x24]):
            primary = self._esp_idf(f.path, f.container, f, data) or primary
        # busybox applets
        if any(m.rule.id == "busybox" for m in matches) and self.busybox is None:
            apps = bb.applets(data if view is None else self.ctx.read(f, MAX_SCAN_BYTES))
            bm = next(m for m in matches if m.rule.id == "busybox")
            self.busybox = {"version": bm.version, "applets": apps, "path": f.path}
        if primary is None and owned_weak:
            # a name- or directory-only signal: attach to the product's versioned component in this filesystem
            # if there is one, else keep it as a weak, version-less component
            self._pending_weak.append((f, owned_weak))
        if primary is not None:
            self.file_comp[(f.container, f.path)] = primary.key

    def _text_and_facts(self, f: FileEntry, base: str, data: bytes,
                        view: bytes | None = None) -> tuple[str, elfr.ElfFacts | None]:
        """The version strings and ELF facts of a file's content (cached by SHA-256)."""
        cached = self.text_cache.get(f.sha256)
        if cached is None:
            dyn = elfr.facts_for(self.ctx, f.sha256, data)
            cached = (version_strings(view if view is not None else elfr.data_view(data, dyn)), dyn)
            self.text_cache[f.sha256] = cached
        text, dyn = cached
        if data and (data[0x202:0x206] == b"HdrS" or kern.looks_like_kernel(base, data[:0x210])
                     or kern.is_module(f.path) or f.path.startswith("/boot/config-") or espidf.looks_like_app(data[:0x24])):
            self.needs_data.add(f.sha256)  # kernel evidence reads the content again for each copy
        if dyn is not None:
            self.dyn[(f.container, f.path)] = dyn
        return text, dyn

    def _matches(self, f: FileEntry, base: str, text: str, dyn: elfr.ElfFacts | None) -> list[Match]:
        """The rule matches of a file (cached by content, name and the products its directory belongs to),
        less a version older than the symbol version nodes the library defines."""
        dirname = posixpath.dirname(f.path)
        mk = (f.sha256, base, tuple(r.id for r in dir_owners(dirname)))
        matches = self.match_cache.get(mk)
        if matches is None:
            matches = match_file(base, text, needed=dyn.needed if dyn is not None else None, dirname=dirname)
            self.match_cache[mk] = matches
        # symbol version nodes the library defines (GLIBC_2.36, OPENSSL_3.0.9): its product is at least that
        # release; a version found for that product in the same file but older contradicts them and is dropped
        floor = releases.symbol_floor(dyn.verdefs) if dyn is not None and dyn.verdefs else {}
        if floor:
            self.floor[(f.container, f.path)] = floor
            matches = [m for m in matches if not (m.version and m.rule.id in floor
                                                   and releases.below_floor(m.version, floor[m.rule.id][0]))]
        return matches

    def _add_matches(self, f: FileEntry, matches: list[Match]) -> _Builder | None:
        """Evidence of every versioned match; the component the file belongs to (its own product first)."""
        primary: _Builder | None = None
        for m in sorted(matches, key=lambda m: (not m.owned, -m.confidence)):
            if m.version is None:
                continue
            if m.rule.id == "linux_kernel":
                continue  # the kernel path reads the header / payload properly
            b = self._attach_rule(m.rule, m.version, f)
            b.add(ComponentEvidence(path=f.path, method=m.method, match=m.text, rule=m.rule.id, container=f.container),
                  m.confidence, f, rank=0 if m.owned else 3)
            if primary is None and (m.owned or not any(x.owned for x in matches)):
                primary = b
        return primary

    def _package_notes(self, f: FileEntry, text: str, primary: _Builder | None) -> _Builder | None:
        """Packaging metadata notes (systemd, ... built with --package-metadata)."""
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
        return primary

    def _kernel_evidence(self, f: FileEntry, base: str, data: bytes, primary: _Builder | None) -> _Builder | None:
        """A kernel image (the component the file belongs to), a kernel config, a module's vermagic."""
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
        return primary

    def _esp_idf(self, path: str, cont: str, fe: FileEntry, data: bytes) -> _Builder | None:
        """ESP-IDF from the app description of an ESP32 app image (identify/espidf.py): the release the app
        was built with (NVD: espressif:esp-idf, an operating system), the app's name and version as properties."""
        b = None
        for d in espidf.app_descs(data):
            b = self.comp("ESP-IDF", d.idf_release, None, type_="operating-system")
            b.supplier = "Espressif Systems"
            b.purl = PackageURL(type="generic", namespace="espressif", name="esp-idf", version=d.idf_release).to_string()
            if d.idf_release:
                b.cpe = f"cpe:2.3:o:espressif:esp-idf:{d.idf_release}:*:*:*:*:*:*:*"
            else:
                b.properties["cpe_product"] = "espressif:esp-idf"
            b.properties.setdefault("idf_ver", d.idf_ver)
            b.properties.setdefault("esp_app_project", d.project)
            b.properties.setdefault("esp_app_version", d.app_version)
            b.properties.setdefault("esp_app_date", d.date)
            b.add(ComponentEvidence(path=path, method="esp-app-desc", container=cont,
                                    match=f"idf_ver={d.idf_ver} project_name={d.project} version={d.app_version} "
                                          f"at 0x{d.offset + 0x20:x}"),
                  0.95 if d.idf_release else 0.5, fe, rank=2)
        return b

    def _esp_idf_image(self) -> None:
        """An ESP-IDF app image that an unpack handler opened (a gzip-compressed web page inside it makes it a
        vendor header with a carved stream): its app description is read from the image itself."""
        img = self.ctx.result.image
        root = next((n for n in img.container_chain if n.id == "0"), None)
        if root is None or root.format == "data" or not root.blob:
            return  # a "data" image is read with the other blobs
        p = Path(root.blob) if root.blob.startswith("/") else self.ctx.out / root.blob
        try:
            with open(p, "rb") as fh:
                if not espidf.looks_like_app(fh.read(0x24)):
                    return
                fh.seek(0)
                data = fh.read(MAX_SCAN_BYTES)
        except OSError:
            return
        fe = FileEntry(path="/" + img.name, container="0", type="file", size=len(data),
                       sha256=hashlib.sha256(data).hexdigest(), sha512=hashlib.sha512(data).hexdigest())
        self._esp_idf(fe.path, "0", fe, data)

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
        self._esp_idf_image()
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
            self._esp_idf(path, node.id, fe, data)
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

