"""Broadcom TRX (v1/v2) firmware containers."""
from __future__ import annotations

import struct

from firmpass.formats import trx
from firmpass.unpack.engine import Handler


class TrxHandler(Handler):
    name = "trx"
    kind = "container"
    magics = [(trx.MAGIC, 0)]

    def probe(self, buf, off, end):
        if off + 28 > end:
            return None
        length, _crc, _fl, ver = struct.unpack("<IIHH", buf[off + 4: off + 16])
        return length if ver in (1, 2) and length >= 28 else None

    def unpack(self, u, node, src, depth):
        t = trx.parse(src.buf, src.off, src.end, allow_truncated=True)
        node.meta.update(t.meta())
        if t.truncated:  # an incomplete download or flash dump: open the partitions that are there
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=t.truncated, present=t.length)
        elif not t.crc_ok:
            u.warn("bad_crc", node, part=u.part_name(node), what="TRX CRC")
        for i, (poff, psize) in enumerate(t.partitions):
            u.child_blob(node, depth, src.view(poff, poff + psize), offset=poff, meta={"trx_partition": i})
        return t.length
