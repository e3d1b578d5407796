"""U-Boot boot containers: legacy uImage, FIT (flattened image tree), bare device-tree blobs."""
from __future__ import annotations

import struct
import zlib

from firmpass.formats import fdt, uimage
from firmpass.unpack.engine import Handler


class UImageHandler(Handler):
    name = "uimage"
    kind = "boot"
    magics = [(struct.pack(">I", uimage.MAGIC), 0)]

    def probe(self, buf, off, end):
        """Header only (magic + header CRC): the declared size may run past `end`, which the engine
        reports as a truncated part."""
        if off + uimage.HEADER_SIZE > end:
            return None
        hdr = bytes(buf[off: off + uimage.HEADER_SIZE])
        if zlib.crc32(hdr[:4] + b"\0\0\0\0" + hdr[8:]) != struct.unpack(">I", hdr[4:8])[0]:
            return None
        return uimage.HEADER_SIZE + struct.unpack(">I", hdr[12:16])[0]

    def unpack(self, u, node, src, depth):
        img = uimage.parse(src.buf, src.off, src.end, allow_truncated=True)
        node.meta.update(img.meta())
        if img.truncated is not None:  # an incomplete download or flash dump: open what is there
            node.status = "partial"
            u.warn("truncated_container", node, part=u.part_name(node), declared=uimage.HEADER_SIZE + img.truncated,
                   present=img.total_size)
        if img.data_ok is False:
            u.warn("bad_crc", node, part=u.part_name(node), what="uImage data CRC")
        for poff, psize in img.parts:
            u.child_blob(node, depth, src.view(poff, poff + psize), offset=poff,
                         meta={"uimage_type": img.type, "uimage_comp": img.comp})
        return img.total_size


class FitHandler(Handler):
    name = "fit"
    kind = "boot"
    magics = [(struct.pack(">I", fdt.FDT_MAGIC), 0)]

    def probe(self, buf, off, end):
        size = fdt.header_size(bytes(buf[off: off + 40]))
        if not (40 < size <= end - off):
            return None
        t = fdt.parse(bytes(buf[off: off + size]))
        if t.node("/images") is None:
            return None
        ext_end = size
        for img in t.node("/images").children:
            do, ds = img.prop("data-offset"), img.prop("data-size")
            dp = img.prop("data-position")
            if ds is not None and (do is not None or dp is not None):
                start = dp.as_u32() if dp is not None else ((size + 3) & ~3) + do.as_u32()
                ext_end = max(ext_end, start + ds.as_u32())
        return ext_end

    def unpack(self, u, node, src, depth):
        size = fdt.header_size(bytes(src.view(0, 40)))
        t = fdt.parse(bytes(src.view(0, size)))
        node.meta["description"] = (t.root.prop("description").as_str() if t.root.prop("description") else None)
        node.meta["totalsize"] = size
        images = []
        consumed = size
        for img in t.node("/images").children:
            info = {"name": img.name}
            for k in ("description", "type", "arch", "os", "compression"):
                if img.prop(k) is not None:
                    info[k] = img.prop(k).as_str()
            info["hashes"] = [{"node": h.name, "algo": h.prop("algo").as_str() if h.prop("algo") else None,
                               "value": h.prop("value").value.hex() if h.prop("value") else None}
                              for h in img.children if h.name.startswith("hash")]
            info["signatures"] = [c.name for c in img.children if c.name.startswith("signature")]
            data, where = None, None
            if img.prop("data") is not None:
                p = img.prop("data")
                data = p.value
                where = t.off_struct + p.end - ((len(p.value) + 3) & ~3)
            elif img.prop("data-size") is not None:
                ds = img.prop("data-size").as_u32()
                if img.prop("data-position") is not None:
                    where = img.prop("data-position").as_u32()
                else:
                    where = ((size + 3) & ~3) + img.prop("data-offset").as_u32()
                if where + ds > src.size:
                    u.warn("truncated", node, part=f"{u.part_name(node)} image {img.name}", size=ds,
                           have=max(0, src.size - where))
                    continue
                data = src.view(where, where + ds)
                consumed = max(consumed, where + ds)
            info["size"] = len(data) if data is not None else 0
            info["offset"] = where
            images.append(info)
            if data is not None and len(data):
                child = u.child_blob(node, depth, data, offset=where or 0,
                                     meta={"fit_image": img.name, "fit_type": info.get("type"),
                                           "fit_compression": info.get("compression")})
                info["container"] = child.id
        node.meta["images"] = images
        confs = t.node("/configurations")
        if confs is not None:
            node.meta["default_configuration"] = confs.prop("default").as_str() if confs.prop("default") else None
            node.meta["configurations"] = {
                c.name: {**{k: c.prop(k).as_strs() for k in ("kernel", "fdt", "ramdisk", "loadables", "firmware")
                            if c.prop(k) is not None},
                         "signatures": [{"node": s.name, **{k: s.prop(k).as_strs() for k in
                                                            ("algo", "key-name-hint", "sign-images")
                                                            if s.prop(k) is not None}}
                                        for s in c.children if s.name.startswith("signature")]}
                for c in confs.children}
        return consumed


class DtbHandler(Handler):
    name = "dtb"
    kind = "leaf"
    magics = [(struct.pack(">I", fdt.FDT_MAGIC), 0)]
    leaf = True
    sniff = False

    def probe(self, buf, off, end):
        size = fdt.header_size(bytes(buf[off: off + 40]))
        if not (40 < size <= end - off):
            return None
        fdt.parse(bytes(buf[off: off + size]))
        return size

    def unpack(self, u, node, src, depth):
        size = fdt.header_size(bytes(src.view(0, 40)))
        t = fdt.parse(bytes(src.view(0, size)))
        for k in ("model", "compatible"):
            if t.root.prop(k) is not None:
                node.meta[k] = t.root.prop(k).as_strs() if k == "compatible" else t.root.prop(k).as_str()
        node.meta["nodes"] = sum(1 for _ in t.root.walk())
        return size
