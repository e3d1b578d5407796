#!/usr/bin/env bash
# Adds the formats the base corpus lacks, from the same rootfs/ (runs after build.sh with OUT set):
#   rootfs-{lzo,lz4,zstd}.sqfs   squashfs 4 with the other compressors (-all-root, like the base ones)
#   rootfs.ext4 / rootfs.ext4.simg   ext4 made by mke2fs -d (owners and modes from the tree), and the
#                                    same as an Android sparse image (img2simg)
#   etc.ext2                     ext2 (indirect blocks) of /etc only
#   rootfs-odc.cpio              cpio, old portable (odc) format
#   etc.tar etc.tar.{gz,xz,bz2,zst,lzma}   tar of /etc (plain, and as standalone compressed streams)
#   www.zip                      zip of /www and /etc (modes in the external attributes, symlinks kept)
#   router.trx                   Broadcom TRX v1: gzip kernel + lz4 squashfs (header written here in Python)
#   vendor-blob.bin              unknown vendor header + zstd squashfs + odc cpio.xz, carved by signature
#   rootfs-be-lzo.jffs2          JFFS2 big-endian, LZO-compressed nodes, owners kept (no --squash-uids)
#   fit-external.itb             FIT with external data (mkimage -E: images after the FDT, data-offset/data-size)
#   uImage-ramdisk               legacy uImage of type ramdisk holding the gzip cpio initramfs
#   formats.json                 what each image must unpack to (tests/unpack reads it)
set -euo pipefail
OUT=${OUT:?}
cd "$OUT"
R=rootfs
for c in lzo lz4 zstd; do
  mksquashfs "$R" "rootfs-$c.sqfs" -comp "$c" -all-root -noappend -no-progress >/dev/null
done
rm -f rootfs.ext4 rootfs.ext4.simg
mke2fs -q -t ext4 -b 4096 -L acme-rootfs -E root_owner=0:0 -d "$R" rootfs.ext4 96M
img2simg rootfs.ext4 rootfs.ext4.simg
rm -f etc.ext2; mke2fs -q -t ext2 -b 1024 -d "$R/etc" etc.ext2 4M
(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H odc --quiet) > rootfs-odc.cpio
tar --sort=name --numeric-owner -C "$R" -cf etc.tar ./etc
gzip -9nc etc.tar > etc.tar.gz
xz -9c etc.tar > etc.tar.xz
python3 -c 'import bz2,sys; sys.stdout.buffer.write(bz2.compress(open("etc.tar","rb").read(), 9))' > etc.tar.bz2  # no bzip2 binary needed
zstd -q -19 -c etc.tar > etc.tar.zst
xz --format=lzma -9c etc.tar > etc.tar.lzma
mkfs.jffs2 -r "$R" -o rootfs-be-lzo.jffs2 -e 0x20000 -b -n -X lzo -x zlib -x rtime 2>/dev/null
mkimage -E -f fit-unsigned.its fit-external.itb >/dev/null
mkimage -A x86_64 -O linux -T ramdisk -C gzip -n "acme initramfs" -d initramfs.cpio.gz uImage-ramdisk >/dev/null
rm -f www.zip; (cd "$R" && zip -q -r -y -X ../www.zip www etc)
python3 - <<'PY'
import struct, zlib, os, json
def trx(parts, align=4):
    # Broadcom TRX v1: "HDR0" | len | crc32 (over bytes 12..len, without the final inversion) | flags u16 | version u16 | 3 offsets
    hdr, body, offs = 28, b"", []
    for p in parts:
        body += b"\0" * ((-(hdr + len(body))) % align)
        offs.append(hdr + len(body)); body += p
    offs += [0] * (3 - len(offs))
    tail = struct.pack("<HH3I", 0, 1, *offs) + body
    return b"HDR0" + struct.pack("<II", hdr + len(body), zlib.crc32(tail) ^ 0xFFFFFFFF) + tail
open("router.trx", "wb").write(trx([open("kernel.gz", "rb").read(), open("rootfs-lz4.sqfs", "rb").read()]))
import lzma
hdr = b"VNDR\x02\x00" + os.urandom(0) + bytes(range(256)) * 2  # made-up header nobody documents
sq = open("rootfs-zstd.sqfs", "rb").read()
cp = lzma.compress(open("rootfs-odc.cpio", "rb").read(), preset=1)
blob = hdr + b"\0" * (0x400 - len(hdr)) + sq + b"\xff" * ((-len(sq)) % 0x1000) + cp
open("vendor-blob.bin", "wb").write(blob)
fs = {
  "rootfs-lzo.sqfs": {"chain": ["squashfs"], "owners": False},
  "rootfs-lz4.sqfs": {"chain": ["squashfs"], "owners": False},
  "rootfs-zstd.sqfs": {"chain": ["squashfs"], "owners": False},
  "rootfs.ext4": {"chain": ["ext4"], "owners": True, "ignore": ["/lost+found"]},
  "rootfs.ext4.simg": {"chain": ["android-sparse", "ext4"], "owners": True, "ignore": ["/lost+found"]},
  "etc.ext2": {"chain": ["ext2"], "owners": True, "root": "/etc", "ignore": ["/lost+found"]},
  "rootfs-odc.cpio": {"chain": ["cpio"], "owners": True},
  "etc.tar": {"chain": ["tar"], "owners": True, "subset": "/etc"},
  "etc.tar.gz": {"chain": ["gzip", "tar"], "owners": True, "subset": "/etc"},
  "etc.tar.xz": {"chain": ["xz", "tar"], "owners": True, "subset": "/etc"},
  "etc.tar.bz2": {"chain": ["bzip2", "tar"], "owners": True, "subset": "/etc"},
  "etc.tar.zst": {"chain": ["zstd", "tar"], "owners": True, "subset": "/etc"},
  "etc.tar.lzma": {"chain": ["lzma", "tar"], "owners": True, "subset": "/etc"},
  "www.zip": {"chain": ["zip"], "owners": False, "subset": ["/www", "/etc"]},
  "rootfs-be-lzo.jffs2": {"chain": ["jffs2"], "owners": True},
  "fit-external.itb": {"chain": ["fit", "squashfs"], "owners": False},
  "uImage-ramdisk": {"chain": ["uimage", "gzip", "cpio"], "owners": False},
  "router.trx": {"chain": ["trx", "squashfs"], "owners": False},
  "vendor-blob.bin": {"chain": ["vendor-header", "squashfs"], "owners": False,
                      "also": [["vendor-header", "xz", "cpio"]]},
}
json.dump(fs, open("formats.json", "w"), indent=2)
PY
ls -la rootfs-l*.sqfs rootfs-zstd.sqfs rootfs.ext4* rootfs-odc.cpio etc.tar* www.zip router.trx vendor-blob.bin >&2
