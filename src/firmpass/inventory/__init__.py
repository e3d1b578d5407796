"""The inventory stage: sha256 + sha512 of every regular file (the SBOM needs both) and the ELF
header facts (class, machine, endianness, type) of every ELF file.

Hashing runs on a thread pool (hashlib releases the GIL on large buffers), one read per file; the ELF
facts (formats/elf.py: header, dynamic linking, hardening) are read from that same read, once per
content, and handed to identify and checks in ctx.scratch["elf"] by sha256.  Files are read with
O_NOFOLLOW from the paths unpack wrote.
"""
from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from firmpass.formats import elf as elfr
from firmpass.model import FileEntry

BIG = 8 << 20
SLICE = 4096


def hash_entry(path: str, elf_cache: dict | None = None,
               lock: threading.Lock | None = None) -> tuple[str, str, bytes, int]:
    """sha256, sha512, the first 64 bytes and the size; for an ELF file whose content is not yet in
    `elf_cache`, its facts (formats.elf) from the same bytes, stored there by sha256."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    keep: list[bytes] | None = None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        head = b""
        n = 0
        # reads no larger than the file: an 8 MiB read buffer per small file, on 8 threads, made a
        # million-entry archive's inventory cost hundreds of MiB of RSS (B8)
        want = min(BIG, os.fstat(fd).st_size + 1)
        while True:
            chunk = fh.read(want)
            if not chunk:
                break
            if not n:
                head = chunk[:64]
                keep = [] if head[:4] == b"\x7fELF" else None
            n += len(chunk)
            if keep is not None:
                keep = keep + [chunk] if n <= elfr.MAX_BYTES else None
            h256.update(chunk)
            h512.update(chunk)
    sha256 = h256.hexdigest()
    if keep and elf_cache is not None and lock is not None:
        with lock:
            fresh = sha256 not in elf_cache
            if fresh:
                elf_cache[sha256] = None  # claimed: another copy of the same content is not parsed again
        if fresh:
            elf_cache[sha256] = elfr.facts(keep[0] if len(keep) == 1 else b"".join(keep))
    return sha256, h512.hexdigest(), head, n


def run(ctx) -> None:
    todo: list[FileEntry] = [f for f in ctx.result.files if f.type in ("file", "hardlink") and f.disk_path]
    done: dict[str, tuple[str, str, bytes, int]] = {}
    cache = ctx.scratch.setdefault("elf", {})  # sha256 -> formats.elf.ElfFacts, for identify and checks
    lock = threading.Lock()

    def one(p: str):
        try:
            return p, hash_entry(str(ctx.out / p), cache, lock)
        except OSError:
            return p, None

    paths = sorted({f.disk_path for f in todo}, key=lambda p: p)
    same: dict[str, str] = {}  # one string per distinct hash (many empty or identical files share it)
    with ThreadPoolExecutor(min(8, (os.cpu_count() or 1) * 2)) as ex:
        # submitted in slices: one Future per file for a million entries at once cost more than the files
        for i in range(0, len(paths), SLICE):
            for p, r in ex.map(one, paths[i:i + SLICE]):
                if r is not None:
                    done[p] = (same.setdefault(r[0], r[0]), same.setdefault(r[1], r[1]), r[2], r[3])
    elf = 0
    for f in todo:
        r = done.get(f.disk_path)
        if r is None:
            continue
        f.sha256, f.sha512 = r[0], r[1]
        f.elf = elfr.header(r[2])
        elf += f.elf is not None
    ctx.result.extra.setdefault("inventory", {}).update({"hashed": len(done), "elf": elf})
