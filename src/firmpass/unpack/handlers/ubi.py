"""UBI images and UBIFS filesystems (ubi-reader), with a bounded block-by-block UBIFS content reader."""
from __future__ import annotations

import contextlib
import io
import stat
import struct
import zlib

from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import (
    OUT_CHUNK,
    FsReader,
    Item,
    fs_guard,
    linux_dev,
    walk_fs,
)


class UbiHandler(Handler):
    name = "ubi"
    kind = "container"
    magics = [(b"UBI#", 0)]

    def probe(self, buf, off, end):
        if off + 64 > end or buf[off + 4] != 1:
            return None
        vid_off, data_off = struct.unpack(">II", buf[off + 16: off + 24])
        if not (64 <= vid_off < data_off <= 1 << 20):
            return None
        nxt = buf.find(b"UBI#", off + data_off, end)
        if nxt < 0:
            return end - off
        peb = nxt - off
        if peb & (peb - 1) or peb < data_off:
            return None
        k = 1
        while off + (k + 1) * peb <= end and buf[off + k * peb: off + k * peb + 4] == b"UBI#":
            k += 1
        return k * peb

    def unpack(self, u, node, src, depth):
        from ubireader import settings
        from ubireader.ubi import ubi as Ubi
        from ubireader.ubi_io import leb_virtual_file, ubi_file

        settings.logging_on = settings.logging_on_verbose = False
        peb = self.probe(src.buf, src.off, src.end)
        nxt = src.buf.find(b"UBI#", src.off + 64, src.end)
        peb = nxt - src.off if nxt > 0 else peb
        node.meta["peb_size"] = peb
        with _quiet():
            uf = ubi_file(str(src.path), peb, src.off, src.end)
            ub = Ubi(uf)
        vols = []
        for image in ub.images:
            for vname, vol in image.volumes.items():
                with _quiet():
                    blocks = vol.get_blocks(ub.blocks)
                    data = b"".join(leb_virtual_file(ub, blocks).reader()) if blocks else b""
                fs_guard(u, node, src, len(data))
                vols.append({"name": vname, "size": len(data), "image_seq": image.image_seq})
                if data:
                    c = u.child_blob(node, depth, data, meta={"ubi_volume": vname})
                    vols[-1]["container"] = c.id
        node.meta["volumes"] = vols
        return src.size


@contextlib.contextmanager
def _quiet():
    """ubi-reader prints and calls sys.exit() on fatal errors: keep it off the terminal, make exits errors."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    except SystemExit:
        raise PartError(buf.getvalue().strip().splitlines()[-1] if buf.getvalue().strip() else "ubi-reader failed") from None


class UbifsHandler(Handler):
    name = "ubifs"
    kind = "filesystem"
    magics = [(b"\x31\x18\x10\x06", 0)]

    def probe(self, buf, off, end):
        if off + 64 > end or buf[off + 20] != 6:
            return None
        leb_size, leb_cnt = struct.unpack("<II", buf[off + 36: off + 44])
        if not (4096 <= leb_size <= 1 << 22) or leb_cnt == 0:
            return None
        return min(end - off, leb_size * leb_cnt)

    def unpack(self, u, node, src, depth):
        from ubireader import settings
        from ubireader.ubi_io import ubi_file
        from ubireader.ubifs import ubifs as Ubifs
        from ubireader.ubifs import walk

        settings.logging_on = settings.logging_on_verbose = False
        leb_size = struct.unpack("<I", src.buf[src.off + 36: src.off + 40])[0]
        node.meta["leb_size"] = leb_size
        with _quiet():
            fs = Ubifs(ubi_file(str(src.path), leb_size, src.off, src.end))
            inodes: dict = {}
            bad: list = []
            walk.index(fs, fs.master_node.root_lnum, fs.master_node.root_offs, inodes, bad)
        if 1 not in inodes:
            raise PartError("no root inode")
        if bad:
            node.status = "partial"
            node.meta["bad_blocks"] = bad
        walk_fs(u, node, src, depth, _UbifsReader(fs, inodes))  # one thread: ubireader seeks one file object
        return src.size


class _UbifsReader(FsReader):
    """UBIFS through ubireader's index (inode number -> its inode node and directory entries) for walk_fs."""

    def __init__(self, fs, inodes: dict):
        self.fs, self.inodes = fs, inodes

    def root(self) -> int:
        return 1

    def children(self, ino: int):
        for dent in self.inodes.get(ino, {}).get("dent", []):
            inode = self.inodes.get(dent.inum)
            if inode is None or "ino" not in inode:
                continue
            n = inode["ino"]
            link = dev = None
            if stat.S_ISLNK(n.mode):
                link = bytes(n.data).decode("utf-8", "surrogateescape")
            elif stat.S_ISCHR(n.mode) or stat.S_ISBLK(n.mode):
                raw = bytes(n.data)
                dev = linux_dev(struct.unpack("<I", raw[:4])[0] if len(raw) >= 4 else 0)
            yield Item(dent.name, n.mode, n.uid, n.gid, n.size, key=dent.inum, link=link, dev=dev, ref=dent.inum)

    def content(self, item: Item):
        return _ubifs_content(self.fs, self.inodes[item.ref], self.inodes, item.size)


def _ubifs_content(fs, inode, inodes, size: int):
    """A UBIFS regular file's content in OUT_CHUNK pieces (what ubireader's process_reg_file returns
    whole): data nodes in block order, missing blocks as zeros, encrypted blocks decrypted, zero
    padding up to the inode size; a repeated block key is skipped, nothing past `size` is produced."""
    from ubireader.ubifs.decrypt import (
        datablock_decrypt,
        derive_key_from_nonce,
        lookup_inode_nonce,
    )
    from ubireader.ubifs.defines import (
        UBIFS_BLOCK_SIZE,
        UBIFS_COMPR_LZO,
        UBIFS_COMPR_ZLIB,
        UBIFS_COMPR_ZSTD,
        UBIFS_DATA_KEY,
        UBIFS_S_KEY_BLOCK_BITS,
    )
    from ubireader.ubifs.misc import decompress

    start_key = UBIFS_DATA_KEY << UBIFS_S_KEY_BLOCK_BITS

    def segments():
        last = start_key - 1
        for data in sorted(inode.get("data", []), key=lambda x: x.key["khash"]):
            khash = data.key["khash"]
            if khash <= last:
                continue
            if khash - last > 1:
                yield (khash - last - 1) * UBIFS_BLOCK_SIZE
            with _quiet():
                fs.file.seek(data.offset)
                d = fs.file.read(data.compr_len)
                if fs.master_key is not None:
                    key = derive_key_from_nonce(fs.master_key, lookup_inode_nonce(inodes, inode))
                    d = datablock_decrypt(key, struct.pack("<QQ", khash - start_key, 0), d)[: data.plaintext_size]
                # every codec bounded to one block (UBIFS_BLOCK_SIZE): the node's own `size` and a zstd
                # frame's declared content size come from the image and are not trusted
                if data.compr_type == UBIFS_COMPR_ZLIB:
                    out = zlib.decompressobj(-11).decompress(d, UBIFS_BLOCK_SIZE)
                elif data.compr_type == UBIFS_COMPR_ZSTD:
                    import zstandard

                    try:
                        out = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(d)).read(UBIFS_BLOCK_SIZE)
                    except zstandard.ZstdError:
                        out = None
                elif data.compr_type == UBIFS_COMPR_LZO:
                    out = decompress(data.compr_type, UBIFS_BLOCK_SIZE, d)
                else:
                    out = d[:UBIFS_BLOCK_SIZE]
            if out is None:
                raise PartError(f"block {khash - start_key} does not decompress")
            yield out
            last = khash

    return _pack(segments(), size)


def _pack(segments, size: int):
    """Segments (bytes, or an int: that many zero bytes) regrouped as ~OUT_CHUNK pieces, cut at `size`
    and zero-padded up to it."""
    piece = bytearray()
    done = 0

    def zeros(n):
        nonlocal piece, done
        while n > 0 and done + len(piece) < size:
            k = min(n, OUT_CHUNK - len(piece), size - done - len(piece))
            piece += bytes(k)
            n -= k
            if len(piece) >= OUT_CHUNK:
                done += len(piece)
                yield bytes(piece)
                piece = bytearray()

    for seg in segments:
        if isinstance(seg, int):
            yield from zeros(seg)
        else:
            piece += seg[: max(0, size - done - len(piece))]
            if len(piece) >= OUT_CHUNK:
                done += len(piece)
                yield bytes(piece)
                piece = bytearray()
        if done + len(piece) >= size:
            break
    yield from zeros(size - done - len(piece))
    if piece:
        yield bytes(piece)
