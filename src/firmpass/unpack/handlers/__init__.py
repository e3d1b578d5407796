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
    android,
    arcadyan,
    archive,
    boot,
    chk,
    cramfs,
    ext,
    jffs2,
    kernel,
    matter,
    realtek,
    romfs,
    seama,
    sparse,
    squashfs,
    streams,
    tplink,
    trx,
    ubi,
    wrgg,
    yaffs2,
)

HANDLERS = [
    boot.UImageHandler,
    boot.FitHandler,
    boot.DtbHandler,
    trx.TrxHandler,
    android.AndroidBootHandler,
    wrgg.WrggHandler,
    seama.SeamaHandler,
    seama.ShrsHandler,
    tplink.TpLinkHandler,
    chk.ChkHandler,
    realtek.RealtekHandler,
    matter.MatterOtaHandler,
    arcadyan.ArcadyanHandler,
    sparse.SparseHandler,
    squashfs.SquashfsHandler,
    squashfs.LegacySquashfsHandler,
    ubi.UbiHandler,
    ubi.UbifsHandler,
    jffs2.Jffs2Handler,
    ext.ExtHandler,
    cramfs.CramfsHandler,
    romfs.RomfsHandler,
    yaffs2.Yaffs2Handler,
    archive.CpioHandler,
    archive.TarHandler,
    archive.ZipHandler,
    archive.SevenZipHandler,
    archive.RarHandler,
    streams.GzipHandler,
    streams.XzHandler,
    streams.Bzip2Handler,
    streams.ZstdHandler,
    streams.LzmaHandler,
    streams.Lz4Handler,
    streams.LzopHandler,
    kernel.LinuxKernelHandler,
    kernel.ElfHandler,
]

for _cls in HANDLERS:
    register(_cls)
