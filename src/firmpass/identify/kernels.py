"""The Linux kernel as a component (identify stage): its version from a kernel image in a container or
the image itself (the bzImage header or payload banner the unpack stage's kernel leaf already located),
a raw kernel banner, a uImage / FIT name, or the /lib/modules directory; recorded once in extra.kernel.
A mixin of identify's _Identifier (self.ctx, self.comp, self.kernel)."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from firmpass.formats import kernel as kern
from firmpass.identify.signatures import rules_by_id
from firmpass.model import ComponentEvidence, FileEntry
from firmpass.unpack.engine import kind_of

if TYPE_CHECKING:
    from firmpass.identify.common import _Builder

MAX_SCAN_BYTES = 64 << 20  # as identify's: what is read of one file


class KernelSources:
    _MODULES_DIR = re.compile(r"^/(?:usr/)?lib/modules/(\d+\.\d+(?:\.\d+)?)([^/]*)/.+\.ko$")

    def _kernel(self, kv: dict, path: str, cont: str | None, f: FileEntry | None, conf: float = 0.95,
                match: str | None = None, blob: bytes | None = None) -> _Builder:
        rule = rules_by_id()["linux_kernel"]
        b = self.comp(rule.name, kv["version"], rule)
        b.properties.setdefault("kernel_release", kv.get("release"))
        if f is None and blob is not None and b.main is None:
            # a kernel carved from a container or the image itself: hash the blob the version came from
            f = FileEntry(path=path, container=cont or "0", type="file", size=len(blob),
                          sha256=hashlib.sha256(blob).hexdigest(), sha512=hashlib.sha512(blob).hexdigest())
        b.add(ComponentEvidence(path=path, method=kv.get("method", "kernel-banner"), match=match or kv.get("banner"),
                                rule=rule.id, container=cont), conf, f, rank=0 if f else 5)
        if self.kernel is None or conf > self.kernel.get("_conf", 0):
            self.kernel = {"version": kv["version"], "release": kv.get("release"), "config": None, "_conf": conf}
        return b


    def kernel_from_containers(self) -> None:
        """Kernels outside the filesystems: uImage / FIT payloads and decompressed blobs, or the image itself."""
        seen: set[str] = set()
        found = False
        for node in self.ctx.result.image.container_chain:
            # filesystems and archives are read through their files; vendor headers are carved into parts
            if kind_of(node.format) in ("filesystem", "archive") or node.format == "vendor-header" or not node.blob:
                continue
            p = Path(node.blob) if node.blob.startswith("/") else self.ctx.out / node.blob
            try:
                if not p.is_file() or p.stat().st_size > 96 << 20:
                    continue
                with open(p, "rb") as fh:
                    head = fh.read(0x210)
                    if head[0x202:0x206] != b"HdrS" and kind_of(node.format) not in ("boot", "kernel"):
                        continue
                    data = head + fh.read()
            except OSError:
                continue
            h = hashlib.sha256(data).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            kv = kern.kernel_version(data, recorded=node.meta)  # what unpack read from it is not found again
            if kv:
                self._kernel(kv, node.source_path or f"/{node.format}-{node.id}", node.id, None, blob=data)
                found = True
        if not found:  # an uncompressed kernel image whose code holds stream magics (carved as a vendor header)
            found = self._raw_kernel_image()
        if not found:  # fall back on a version in a uImage / FIT name: weak
            for node in self.ctx.result.image.container_chain:
                name = str(node.meta.get("name") or node.meta.get("description") or "")
                v = kern.version_from_name(name) if kind_of(node.format) in ("boot", "kernel") else None
                if v:
                    # the container's payload, when carved, gives the component its file name and hashes
                    blob = None
                    p = (Path(node.blob) if node.blob.startswith("/") else self.ctx.out / node.blob) if node.blob else None
                    try:
                        if p is not None and p.is_file() and p.stat().st_size <= 96 << 20:
                            blob = p.read_bytes()
                    except OSError:
                        blob = None
                    self._kernel({"version": v, "release": None, "method": "uimage-name"}, f"/{node.format}-{node.id}",
                                 node.id, None, conf=0.4, match=name, blob=blob)
        # the image itself may be a bare kernel (no container found)
        if not self.ctx.result.image.container_chain and self.ctx.image.is_file():
            try:
                with open(self.ctx.image, "rb") as fh:
                    head = fh.read(0x210)
            except OSError:
                return
            if head[0x202:0x206] == b"HdrS" and self.ctx.image.stat().st_size <= 96 << 20:
                data = self.ctx.image.read_bytes()
                kv = kern.kernel_version(data)
                if kv:
                    self._kernel(kv, "/" + self.ctx.result.image.name, "0", None, blob=data)


    def _raw_kernel_image(self) -> bool:
        """The image itself is a raw kernel (a Linux banner line in it) that carving split at the stream
        magics its code holds (a raw ARM Image / vmlinux): read the banner from the image."""
        chain = self.ctx.result.image.container_chain
        if not chain or chain[0].format not in ("vendor-header", "concat") or not self.ctx.image.is_file():
            return False
        if self.ctx.image.stat().st_size > 96 << 20:
            return False
        data = self.ctx.image.read_bytes()
        kv = kern.kernel_version(data, decompress=False)
        if kv:
            self._kernel(kv, "/" + self.ctx.result.image.name, "0", None, blob=data)
        return kv is not None


    def kernel_from_modules_dir(self) -> None:
        """No kernel image and no module vermagic (OpenWrt strips modinfo): the kernel release the modules
        were installed for, from /lib/modules/<release>/ holding .ko files (kmod's layout, named after
        `uname -r`).  Weaker than a banner: used only when nothing else named the kernel."""
        if self.kernel is not None:
            return
        seen: dict[tuple[str, str], list[FileEntry]] = {}
        for f in self.ctx.iter_files(("file",)):
            m = self._MODULES_DIR.match(f.path)
            if m:
                seen.setdefault((f.container, m.group(1) + m.group(2)), []).append(f)
        if len({r for _, r in seen}) != 1:
            return  # none, or modules for several kernels: which one runs is unknown
        for (cont, rel), files in seen.items():
            path = f"/lib/modules/{rel}/"
            b = self._kernel({"version": kern.RELEASE.match(rel).group(1), "release": rel, "method": "modules-dir"},
                             path, cont, None, conf=0.5, match=f"{len(files)} kernel modules under {path}")
            # the modules are files of the kernel component (built from its tree for this release): they
            # give it a file name and hashes where the kernel image itself is not in the filesystem
            for f in sorted(files, key=lambda e: e.path):
                if f.sha256 is None or f.sha512 is None:
                    try:
                        data = self.ctx.read(f, MAX_SCAN_BYTES)
                    except OSError:
                        continue
                    f.sha256, f.sha512 = hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest()
                b.add(b.evidence[-1], b.confidence, f, rank=6)
