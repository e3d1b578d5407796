"""Android sparse images."""
from __future__ import annotations

import struct

from firmpass.formats import sparse
from firmpass.unpack.engine import Handler, PartError
from firmpass.unpack.handlers.common import (
    fs_guard,
)


class SparseHandler(Handler):
    name = "android-sparse"
    kind = "container"
    magics = [(struct.pack("<I", sparse.MAGIC), 0)]

    def probe(self, buf, off, end):
        sparse.header(buf, off)
        return -1

    def unpack(self, u, node, src, depth):
        h = sparse.header(src.buf, src.off)
        node.meta.update(h.meta())
        consumed = 0

        def truncated(chunk: int, blocks: int) -> None:
            node.status = "partial"
            node.meta["truncated_at_chunk"] = chunk
            u.warn("truncated_sparse", node, part=u.part_name(node), chunk=chunk, chunks=h.total_chunks,
                   blocks=blocks, total=h.total_blks)

        # the raw image's size counts against the ratio before anything is written (B7: a 44-byte
        # image with one FILL chunk would otherwise write 1 GiB); then every byte written counts too
        u.stream_guard(src.size, h.raw_size, u.part_name(node))
        produced = 0

        def wrote(n: int) -> None:
            nonlocal produced
            produced += n
            u.account(n)
            fs_guard(u, node, src, produced)

        def write(fh):
            nonlocal consumed
            consumed = sparse.expand(src.buf, src.off, src.end, fh, u.lim.max_file_bytes,
                                     on_write=wrote, on_truncated=truncated)

        try:
            u.child_blob(node, depth, write, fmt="data")
        except sparse.SparseError as e:
            raise PartError(str(e)) from None
        return consumed or src.size
