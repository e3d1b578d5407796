"""The format handlers, one module per format family (unblob's model), and their order.

HANDLERS is the registry in identification order, most specific first: at one offset the first
handler whose magic matches and whose probe() accepts the bytes wins (a FIT is tried before a bare
device tree, container formats before the streams they may hold).  A new format is a module here
with a Handler subclass (name, magics, kind, probe, unpack) and one line in HANDLERS.

Each handler has a `kind` that later stages read instead of lists of format names of their own:
"boot" (boot containers that carry a kernel: uImage, FIT), "kernel" (a kernel image), "container"
(partitioned or wrapped payloads: TRX, Android sparse, UBI), "filesystem", "archive", "stream"
(compressed data), "leaf" (recognised and recorded, nothing inside: DTB, ELF).
"""
from __future__ import annotations

from firmpass.unpack.engine import register
from firmpass.unpack.handlers import (
    archive,
    boot,
    ext,
    jffs2,
    kernel,
    sparse,
    squashfs,
    streams,
    trx,
    ubi,
)

HANDLERS = [
    boot.UImageHandler,
    boot.FitHandler,
    boot.DtbHandler,
    trx.TrxHandler,
    sparse.SparseHandler,
    squashfs.SquashfsHandler,
    ubi.UbiHandler,
    ubi.UbifsHandler,
    jffs2.Jffs2Handler,
    ext.ExtHandler,
    archive.CpioHandler,
    archive.TarHandler,
    archive.ZipHandler,
    streams.GzipHandler,
    streams.XzHandler,
    streams.Bzip2Handler,
    streams.ZstdHandler,
    streams.LzmaHandler,
    kernel.LinuxKernelHandler,
    kernel.ElfHandler,
]

for _cls in HANDLERS:
    register(_cls)
