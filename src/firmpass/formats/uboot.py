"""U-Boot formats: legacy uImage headers, FIT images (signature verification) and environment blobs.

Written here because no maintained Python package verifies FIT signatures; the algorithm follows
U-Boot's documented FIT signature scheme (doc/usage/fit/signature.rst): a configuration signature
covers the FDT regions of the nodes listed in its ``hashed-nodes`` property (image ``data``
properties excluded) plus ``hashed-strings`` of the strings block; every image's ``hash-N`` value
then binds its data.  Crypto is done with `cryptography`.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from firmpass.formats import fdt as fdtmod

UIMAGE_MAGIC = 0x27051956
UIMAGE_HDR = struct.Struct(">7I4B32s")
EXCLUDED_PROPS = ("data", "data-size", "data-position", "data-offset")
HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512,
          "md5": hashlib.md5}
CRYPTO_HASH = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
UIMAGE_TYPES = {2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script", 7: "filesystem", 8: "flat_dt"}


def parse_uimage(data: bytes) -> dict | None:
    """Legacy uImage header fields, with header/data CRC checks; None when `data` is no uImage."""
    if len(data) < UIMAGE_HDR.size:
        return None
    (magic, hcrc, ts, size, load, ep, dcrc, os_, arch, typ, comp, name) = UIMAGE_HDR.unpack_from(data)
    if magic != UIMAGE_MAGIC:
        return None
    hdr = bytearray(data[:64])
    hdr[4:8] = b"\0\0\0\0"
    payload = data[64: 64 + size]
    return {"name": name.rstrip(b"\0").decode("latin-1"), "size": size, "type": UIMAGE_TYPES.get(typ, str(typ)),
            "header_crc_ok": zlib.crc32(bytes(hdr)) == hcrc,
            "data_crc_ok": len(payload) == size and zlib.crc32(payload) == dcrc, "timestamp": ts,
            "signed": False}


def is_fit(f: fdtmod.Fdt) -> bool:
    return f.node("/images") is not None and f.node("/configurations") is not None


def image_data(f: fdtmod.Fdt, node: fdtmod.FdtNode, whole: bytes) -> bytes | None:
    p = node.prop("data")
    if p is not None:
        return p.value
    size = node.prop("data-size")
    if size is None:
        return None
    n = size.as_u32()
    if node.prop("data-position") is not None:
        off = node.prop("data-position").as_u32()
    elif node.prop("data-offset") is not None:
        off = ((f.totalsize + 3) & ~3) + node.prop("data-offset").as_u32()
    else:
        return None
    if off + n > len(whole):
        return None
    return whole[off: off + n]


@dataclass
class FitReport:
    verdict: str  # verified | signed_no_key | signature_invalid | unsigned
    images: dict = field(default_factory=dict)  # name -> {type, size, hashes: [{algo, ok}]}
    configs: dict = field(default_factory=dict)  # name -> {signatures: [...]}
    default: str | None = None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "default": self.default, "images": self.images, "configs": self.configs,
                "reasons": self.reasons}


def keys_from_dtb(ctl: fdtmod.Fdt) -> dict[str, dict]:
    """Public keys of a U-Boot control DTB (/signature/key-<name>)."""
    out = {}
    sig = ctl.node("/signature")
    for k in (sig.children if sig else []):
        d = {"name": k.name.removeprefix("key-"), "algo": k.prop("algo").as_str() if k.prop("algo") else None,
             "required": k.prop("required").as_str() if k.prop("required") else None}
        try:
            d.update(_key_of(k))
        except (ValueError, fdtmod.FdtError):  # a malformed key node is no key
            continue
        if "key" not in d:
            continue
        out[d["name"]] = d
    return out


def _key_of(k: fdtmod.FdtNode) -> dict:
    d: dict = {}
    if k.prop("rsa,modulus") is not None:
        n = int.from_bytes(k.prop("rsa,modulus").value, "big")
        e_raw = k.prop("rsa,exponent").value if k.prop("rsa,exponent") else b"\0\0\0\0\0\x01\0\x01"
        d.update(kind="rsa", key=rsa.RSAPublicNumbers(int.from_bytes(e_raw, "big"), n).public_key(),
                 bits=k.prop("rsa,num-bits").as_u32() if k.prop("rsa,num-bits") else n.bit_length())
    elif k.prop("ecdsa,x-point") is not None:
        curve = {"prime256v1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}.get(
            k.prop("ecdsa,curve").as_str() if k.prop("ecdsa,curve") else "prime256v1", ec.SECP256R1())
        x = int.from_bytes(k.prop("ecdsa,x-point").value, "big")
        y = int.from_bytes(k.prop("ecdsa,y-point").value, "big")
        d.update(kind="ecdsa", key=ec.EllipticCurvePublicNumbers(x, y, curve).public_key(), bits=curve.key_size)
    return d


def _verify_sig(key: dict, algo: str, pad: str | None, sig: bytes, msg: bytes) -> bool:
    hname = algo.split(",")[0]
    h = CRYPTO_HASH.get(hname)
    if h is None:
        return False
    try:
        if key["kind"] == "rsa":
            pd = padding.PSS(mgf=padding.MGF1(h()), salt_length=padding.PSS.AUTO) if pad == "pss" else padding.PKCS1v15()
            key["key"].verify(sig, msg, pd, h())
        else:
            half = len(sig) // 2
            der = utils.encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
            key["key"].verify(der, msg, ec.ECDSA(h()))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def verify_fit(whole: bytes, keys: dict[str, dict] | None = None) -> FitReport:
    """Check a FIT image: image hashes, configuration signatures (against `keys` from a control DTB)."""
    f = fdtmod.parse(whole)
    if not is_fit(f):
        raise fdtmod.FdtError("not a FIT image (no /images and /configurations)")
    rep = FitReport(verdict="unsigned")
    images_node, confs_node = f.node("/images"), f.node("/configurations")
    rep.default = confs_node.prop("default").as_str() if confs_node.prop("default") else None
    for img in images_node.children:
        rep.images[img.name] = _fit_image(f, img, whole)
    any_sig, any_ok, any_bad, no_key = False, False, False, False
    for conf in confs_node.children:
        refs = {}
        for pname in ("kernel", "fdt", "ramdisk", "firmware", "loadables", "setup", "fpga"):
            if conf.prop(pname) is not None:
                refs[pname] = conf.prop(pname).as_strs()
        sigs = []
        for sn in conf.children:
            if not sn.name.startswith("signature"):
                continue
            any_sig = True
            entry = _fit_config_signature(f, whole, conf, sn, refs, rep.images, keys)
            any_ok |= entry["status"] == "verified"
            any_bad |= entry["status"] == "invalid"
            no_key |= entry["status"] == "no_key"
            sigs.append(entry)
        rep.configs[conf.name] = {"images": refs, "signatures": sigs}
    bad_hash = [n for n, i in rep.images.items() if any(h["ok"] is False for h in i["hashes"])]
    if bad_hash:
        rep.reasons.append("hash mismatch: " + ", ".join(bad_hash))
    if not any_sig:
        rep.verdict = "unsigned"
    elif any_bad:
        rep.verdict = "signature_invalid"
    elif any_ok:
        rep.verdict = "verified"
    else:
        rep.verdict = "signed_no_key"
    return rep


def _fit_image(f, img, whole: bytes) -> dict:
    """One FIT image node: its type, size and whether each of its hash nodes matches the data."""
    data = image_data(f, img, whole)
    hs = []
    for h in img.children:
        if not h.name.startswith("hash"):
            continue
        algo = h.prop("algo").as_str() if h.prop("algo") else "?"
        val = h.prop("value").value if h.prop("value") else b""
        if data is None:
            ok = False
        elif algo == "crc32":
            ok = struct.pack(">I", zlib.crc32(data)) == val
        elif algo in HASHES:
            ok = HASHES[algo](data).digest() == val
        else:
            ok = None
        hs.append({"node": h.name, "algo": algo, "ok": ok})
    return {"type": img.prop("type").as_str() if img.prop("type") else None,
            "size": len(data) if data is not None else None, "hashes": hs,
            "image_signatures": [c.name for c in img.children if c.name.startswith("signature")]}


def _fit_signed_coverage(images_node, conf, refs: dict, nodes: list[str]) -> list[str]:
    """The nodes a configuration signature must cover (the configuration, its images and their hashes) but does not."""
    missing = [] if conf.path in nodes else [conf.path]
    for names in refs.values():
        for nm in names:
            ip = f"/images/{nm}"
            if ip not in nodes:
                missing.append(ip)
            im = images_node.child(nm)
            for h in (im.children if im else []):
                if h.name.startswith("hash") and f"{ip}/{h.name}" not in nodes:
                    missing.append(f"{ip}/{h.name}")
    return missing


def _fit_config_signature(f, whole: bytes, conf, sn, refs: dict, images: dict, keys: dict[str, dict] | None) -> dict:
    """One configuration signature node: verified, invalid (with reasons) or no_key."""
    algo = sn.prop("algo").as_str() if sn.prop("algo") else ""
    hint = sn.prop("key-name-hint").as_str() if sn.prop("key-name-hint") else None
    entry = {"node": sn.name, "algo": algo, "key_name_hint": hint, "status": "no_key", "reasons": []}
    value = sn.prop("value").value if sn.prop("value") else b""
    nodes = sn.prop("hashed-nodes").as_strs() if sn.prop("hashed-nodes") else []
    hs = sn.prop("hashed-strings").as_u32s() if sn.prop("hashed-strings") else []
    cands = []
    if keys:
        if hint and hint in keys:
            cands = [keys[hint]]
        else:
            cands = [k for k in keys.values() if not k.get("algo") or k.get("algo") == algo]
    if not value or not nodes or len(hs) < 2:
        entry.update(status="invalid")
        entry["reasons"].append("signature node without value / hashed-nodes / hashed-strings")
    elif not cands:
        entry.update(status="no_key")
    else:
        # the signed node list must cover this configuration and every image it uses with its hashes
        missing = _fit_signed_coverage(f.node("/images"), conf, refs, nodes)
        try:
            regions = fdtmod.find_regions(f, nodes, EXCLUDED_PROPS)
            msg = b"".join(whole[o: o + s] for o, s in regions)
            msg += whole[f.off_strings + hs[0]: f.off_strings + hs[0] + hs[1]]
            good = any(_verify_sig(k, algo, sn.prop("padding").as_str() if sn.prop("padding") else None,
                                   value, msg) for k in cands)
        except fdtmod.FdtError as e:
            good = False
            entry["reasons"].append(f"region selection failed: {e}")
        entry["key"] = cands[0]["name"] if len(cands) == 1 else [k["name"] for k in cands]
        if not good:
            entry["status"] = "invalid"
            entry["reasons"].append("RSA/ECDSA signature does not verify over the signed regions")
        elif missing:
            entry["status"] = "invalid"
            entry["reasons"].append("signature does not cover: " + ", ".join(missing))
        else:
            entry["status"] = "verified"
    # the images the config uses must match their signed hashes
    for names in refs.values():
        for nm in names:
            info = images.get(nm)
            if info is None:
                entry["status"] = "invalid"
                entry["reasons"].append(f"image {nm} missing")
            elif not info["hashes"] or any(h["ok"] is False for h in info["hashes"]):
                entry["status"] = "invalid"
                entry["reasons"].append(f"image {nm}: hash does not match its data")
    return entry


# ----------------------------------------------------------------------------- environment
def parse_env(data: bytes, max_size: int = 1 << 20) -> dict | None:
    """A U-Boot environment blob: CRC32 (LE) + [flags byte if redundant] + key=value\\0 ... \\0\\0.

    Tries the usual sizes (the whole blob, then power-of-two sizes); None when no CRC matches."""
    sizes = [len(data)] + [s for s in (0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000) if s < len(data)]
    for size in sizes:
        if size < 8 or size > max_size:
            continue
        (crc,) = struct.unpack_from("<I", data, 0)
        for hdr in (4, 5):
            body = data[hdr:size]
            if zlib.crc32(body) == crc:
                env = {}
                for item in body.split(b"\0\0", 1)[0].split(b"\0"):
                    if b"=" in item:
                        k, _, v = item.partition(b"=")
                        env[k.decode("latin-1")] = v.decode("latin-1")
                return {"size": size, "redundant": hdr == 5, "vars": env}
    return None
