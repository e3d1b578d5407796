"""A small YAFFS2 image writer for the tests (Debian has no YAFFS tool).

Written from the published YAFFS layout, not from firmpass's reader: the object header is
struct yaffs_obj_hdr of yaffs_guts.h (type, parent_obj_id, a 16-bit unused checksum, name[256],
then at 268 mode, uid, gid, atime, mtime, ctime, file_size_low, equiv_id, alias[160] at 300, rdev at
464, file_size_high at 500), one object per header chunk; data chunks are numbered from 1.
Tags are the four 32-bit words of struct yaffs_packed_tags2_tags_only (seq_number, obj_id,
chunk_id, n_bytes) placed at `tag_off` in the spare area, as mkyaffs2image does (offset 0) or after
the bad-block marker (offset 2, the MTD OOB auto layout); `extra=True` packs the header
information into the tags as yaffs_packedtags2.c does (chunk_id = 0x80000000 | parent, the object
type in obj_id's top four bits, n_bytes = file size).  `yaffs1=True` writes the YAFFS1 tags of a
512+16 page instead (struct yaffs_tags bit fields: chunk_id:20 serial:2 n_bytes_lsb:10 | obj_id:18
ecc:12 n_bytes_msb:2, stored in spare bytes 0-3, 6-7, 11-12).  The real sample in
../shared/data/formats/yaffs2.bin checks the reader independently of this writer.
"""
from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

T_FILE, T_SYMLINK, T_DIR, T_HARDLINK, T_SPECIAL = 1, 2, 3, 4, 5


def _header(e: str, typ: int, parent: int, name: bytes, st: os.stat_result | None, size: int = 0,
            equiv: int = -1, alias: bytes = b"", rdev: int = 0) -> bytes:
    h = bytearray(b"\xff" * 512)
    struct.pack_into(e + "IIH", h, 0, typ, parent, 0xFFFF)
    h[10:266] = name[:255].ljust(256, b"\0")
    h[266:268] = b"\xff\xff"
    mode, uid, gid, t = (st.st_mode, st.st_uid, st.st_gid, int(st.st_mtime)) if st else (0, 0, 0, 0)
    struct.pack_into(e + "IIIIIIIi", h, 268, mode, uid, gid, t, t, t, size & 0xFFFFFFFF, equiv)
    h[300:460] = alias[:159].ljust(160, b"\0")
    struct.pack_into(e + "I", h, 464, rdev)
    struct.pack_into(e + "I", h, 500, size >> 32)
    return bytes(h)


def _encode_dev(rdev: int) -> int:
    """new_encode_dev (Linux kdev_t.h): minor's low 8 bits, major << 8, minor's high bits << 12."""
    ma, mi = os.major(rdev), os.minor(rdev)
    return (mi & 0xFF) | (ma << 8) | ((mi & ~0xFF) << 12)


def write(root: Path, out: Path, page: int = 2048, spare: int = 64, tag_off: int = 0, endian: str = "<",
          extra: bool = False, yaffs1: bool = False) -> None:
    chunks: list[bytes] = []
    seq = 0x1000
    ids = {root: 1}
    inodes: dict[tuple[int, int], int] = {}
    nxt = [257]

    def spare_of(obj: int, chunk: int, nbytes: int, typ: int = 0, parent: int = 0) -> bytes:
        sp = bytearray(b"\xff" * spare)
        if yaffs1:
            a = (chunk & 0xFFFFF) | (0 << 20) | ((nbytes & 0x3FF) << 22)
            b = (obj & 0x3FFFF) | (0 << 18) | (((nbytes >> 10) & 3) << 30)
            t = struct.pack("<II", a, b)
            sp[0:4], sp[6:8], sp[11:13] = t[0:4], t[4:6], t[6:8]
            return bytes(sp)
        if extra and chunk == 0:
            obj_w = (obj & 0x0FFFFFFF) | (typ << 28)
            sp[tag_off: tag_off + 16] = struct.pack(endian + "IIII", seq, obj_w, 0x80000000 | parent, nbytes)
        else:
            sp[tag_off: tag_off + 16] = struct.pack(endian + "IIII", seq, obj, chunk,
                                                    0xFFFF if chunk == 0 and not extra else nbytes)
        return bytes(sp)

    def add(page_data: bytes, sp: bytes) -> None:
        chunks.append(page_data.ljust(page, b"\xff") + sp)

    def obj_id() -> int:
        nxt[0] += 1
        return nxt[0] - 1

    def walk(d: Path) -> None:
        for p in sorted(d.iterdir()):
            st = p.lstat()
            parent = ids[d]
            name = os.fsencode(p.name)
            oid = obj_id()
            key = (st.st_dev, st.st_ino)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and key in inodes:
                h = _header(endian, T_HARDLINK, parent, name, st, equiv=inodes[key])
                add(h, spare_of(oid, 0, inodes[key], T_HARDLINK, parent))
                continue
            if stat.S_ISDIR(st.st_mode):
                ids[p] = oid
                add(_header(endian, T_DIR, parent, name, st), spare_of(oid, 0, 0, T_DIR, parent))
                walk(p)
            elif stat.S_ISLNK(st.st_mode):
                h = _header(endian, T_SYMLINK, parent, name, st, alias=os.fsencode(os.readlink(p)))
                add(h, spare_of(oid, 0, 0, T_SYMLINK, parent))
            elif stat.S_ISREG(st.st_mode):
                inodes[key] = oid
                data = p.read_bytes()
                add(_header(endian, T_FILE, parent, name, st, size=len(data)),
                    spare_of(oid, 0, len(data), T_FILE, parent))
                for i in range(0, len(data), page):
                    piece = data[i: i + page]
                    add(piece, spare_of(oid, i // page + 1, len(piece)))
            else:
                h = _header(endian, T_SPECIAL, parent, name, st, rdev=_encode_dev(st.st_rdev))
                add(h, spare_of(oid, 0, 0, T_SPECIAL, parent))

    walk(root)
    out.write_bytes(b"".join(chunks))
