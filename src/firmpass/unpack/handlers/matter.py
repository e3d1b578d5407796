"""Matter OTA software images (the Matter Core Specification, section 11.21 "OTA Software Update",
OTA image file format): FileIdentifier 0x1BEEF11E (u32 LE), TotalSize (u64 LE), HeaderSize (u32 LE),
a Matter-TLV structure of HeaderSize bytes, then the payload.

The TLV header is parsed with a small reader of ours (the layout is in the spec's Appendix A; no
maintained Python package reads Matter TLV without pulling a whole Matter SDK): context tags
0 VendorID, 1 ProductID, 2 SoftwareVersion, 3 SoftwareVersionString, 4 PayloadSize,
5 MinApplicableSoftwareVersion, 6 MaxApplicableSoftwareVersion, 7 ReleaseNotesURL,
8 ImageDigestType (an IANA hash algorithm number, 1 = SHA-256), 9 ImageDigest.
The fields are recorded, the digest checked, and the payload unpacked as a part.
"""
from __future__ import annotations

import hashlib
import struct

from firmpass.unpack.engine import Handler, PartError

MAGIC = struct.pack("<I", 0x1BEEF11E)
FIELDS = {0: "vendor_id", 1: "product_id", 2: "software_version", 3: "software_version_string",
          4: "payload_size", 5: "min_applicable_version", 6: "max_applicable_version", 7: "release_notes_url",
          8: "image_digest_type", 9: "image_digest"}
DIGESTS = {1: "sha256", 2: "sha256_128", 3: "sha256_120", 4: "sha256_96", 5: "sha256_64", 6: "sha256_32",
           7: "sha384", 8: "sha512", 9: "sha224", 10: "sha512_224", 11: "sha512_256", 12: "sha3_256"}


def tlv_struct(b: bytes) -> dict[int, object]:
    """The context-tagged members of the anonymous TLV structure at the start of b (bounded by len(b))."""
    if not b or b[0] != 0x15:
        raise PartError("Matter OTA header is not a TLV structure")
    pos, out = 1, {}
    while pos < len(b):
        ctl = b[pos]
        pos += 1
        if ctl == 0x18:  # end of container
            return out
        tagc, typ = ctl >> 5, ctl & 0x1F
        tag = None
        if tagc == 1:
            tag = b[pos]
            pos += 1
        elif tagc:  # common-profile 2/4, implicit-profile 2/4, fully-qualified 6/8 bytes: not used by the header
            pos += {2: 2, 3: 4, 4: 2, 5: 4, 6: 6, 7: 8}[tagc]
        if typ <= 0x07:
            n = 1 << (typ & 3)
            val: object = int.from_bytes(b[pos: pos + n], "little", signed=typ <= 3)
            pos += n
        elif typ in (0x08, 0x09):
            val = typ == 0x09
        elif typ in (0x0A, 0x0B):
            n = 4 if typ == 0x0A else 8
            val = struct.unpack("<f" if n == 4 else "<d", b[pos: pos + n])[0]
            pos += n
        elif 0x0C <= typ <= 0x13:
            ln = 1 << (typ & 3)
            n = int.from_bytes(b[pos: pos + ln], "little")
            pos += ln
            if pos + n > len(b):
                raise PartError("Matter OTA header: a string runs past the header")
            raw = b[pos: pos + n]
            val = raw.decode("utf-8", "replace") if typ <= 0x0F else raw.hex()
            pos += n
        elif typ == 0x14:
            val = None
        else:
            raise PartError(f"Matter OTA header: unsupported TLV element type {typ:#x}")
        if tag is not None:
            out[tag] = val
    raise PartError("Matter OTA header: structure not terminated")


class MatterOtaHandler(Handler):
    name = "matter-ota"
    kind = "container"
    magics = [(MAGIC, 0)]

    def probe(self, buf, off, end):
        if off + 20 > end:
            return None
        total, hsize = struct.unpack("<QI", buf[off + 4: off + 16])
        if not 2 <= hsize <= 1 << 16 or total < 16 + hsize or total > 1 << 40:
            return None
        if buf[off + 16] != 0x15:
            return None
        return total

    def unpack(self, u, node, src, depth):
        total, hsize = struct.unpack("<QI", bytes(src.view(4, 16)))
        fields = tlv_struct(bytes(src.view(16, 16 + hsize)))
        meta = {FIELDS.get(k, f"tag_{k}"): v for k, v in fields.items()}
        if isinstance(meta.get("image_digest_type"), int):
            meta["image_digest_type"] = DIGESTS.get(meta["image_digest_type"], meta["image_digest_type"])
        node.meta.update({"total_size": total, "header_size": hsize, **meta})
        start = 16 + hsize
        psize = fields.get(4) if isinstance(fields.get(4), int) else total - start
        if total > src.size or start + psize > src.size:
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=total, present=src.size)
        payload = src.view(start, start + psize)
        algo = meta.get("image_digest_type")
        if algo in ("sha256", "sha384", "sha512", "sha224") and meta.get("image_digest") and len(payload) == psize:
            ok = hashlib.new(algo, payload).hexdigest() == meta["image_digest"]
            node.meta["image_digest_ok"] = ok
            if not ok:
                u.warn("bad_crc", node, part=u.part_name(node), what="Matter OTA image digest")
        if len(payload):
            u.child_blob(node, depth, payload, offset=start, meta={"matter_payload": True})
        return min(src.size, total)
