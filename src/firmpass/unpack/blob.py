"""What firmpass can still say about a file it could not open: is it firmware at all, how its entropy
runs through it, and the likely reason it could not be opened.

Policy (see unpack.run):
- input that is not firmware at all - plain text, a picture, a document, a few bytes - is unusable
  (exit 2), and the one-line message says which (``not_firmware``);
- anything else that no handler opens is scanned as an unopened image (exit 0): hashes, an entropy
  profile per region, the blob's strings for identification, and one warning naming the likely cause
  (``likely_cause``): "encrypted" (high, flat entropy with byte counts as even as random data),
  "compressed" (high entropy with the byte bias of compressed data: a method or header firmpass does
  not recognise), or "unknown_format" (structured content: a vendor format firmpass does not know).

The entropy profile is Shannon entropy (bits per byte) of a sample of up to 64 KiB at the start of each
of at most 128 equal regions (16 KiB at least), so a large image costs at most 8 MiB of reading.  Written here: the measure is
a few lines over collections.Counter; binwalk's entropy module would bring binwalk and matplotlib.
LZMA / XZ data is as even as ciphertext, so "encrypted" means "encrypted, or compressed without any
header firmpass recognises"; the warning says so.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from firmpass.model import Text

MAX_REGIONS = 128
SAMPLE = 65536
MIN_FIRMWARE = 512  # bytes: below this a file is not a firmware image
# firmware in text form (Intel HEX, Motorola S-records): firmware, not "plain text"
_HEX_RECORDS = re.compile(rb"\A(?:\s*(?::[0-9A-Fa-f]{10,}|S[0-9][0-9A-Fa-f]{6,})\s*\n){4}")

_PICTURES = [(b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
             (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF")]
_DOCUMENTS = [(b"%PDF-", "PDF"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Microsoft Office")]


def not_firmware(path: Path) -> Text | None:
    """What the file is when it is not firmware at all (text, a picture, a document, a few bytes), as
    a bilingual phrase for the error line; None when it may be firmware."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE)
    if size < MIN_FIRMWARE:
        return Text(en=f"only {size} bytes, too small for a firmware image", zh=f"仅 {size} 字节，太小，不可能是固件镜像")
    for magic, name in _PICTURES:
        if head.startswith(magic) and (name != "BMP" or _bmp(head, size)):
            return Text(en=f"a {name} picture", zh=f"一张 {name} 图片")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Text(en="a WebP picture", zh="一张 WebP 图片")
    for magic, name in _DOCUMENTS:
        if head.startswith(magic):
            return Text(en=f"a {name} document", zh=f"一份 {name} 文档")
    if _HEX_RECORDS.match(head):
        return None
    if _is_text(head):
        return Text(en="plain text", zh="纯文本")
    return None


def raw_kernel(path: Path, limit: int = 96 << 20) -> bool:
    """An uncompressed Linux kernel image (the whole linux_banner line is in it), read up to `limit`."""
    from firmpass.identify.kernel import BANNER

    with open(path, "rb") as fh:
        return BANNER.search(fh.read(limit)) is not None


def _bmp(head: bytes, size: int) -> bool:
    """'BM' starts many things: a BMP also declares its own file size and a known header size."""
    return len(head) >= 18 and int.from_bytes(head[2:6], "little") == size and int.from_bytes(head[14:18], "little") in (
        12, 40, 52, 56, 64, 108, 124)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        s = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not a character cut at the end of the sample
            return False
        s = head[: e.start].decode("utf-8")
    bad = sum(1 for ch in s if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bad <= len(s) // 1000


def _entropy(b: bytes) -> tuple[float, float]:
    """(Shannon entropy in bits per byte, chi-square of the byte counts against an even spread)."""
    n = len(b)
    if not n:
        return 0.0, 0.0
    c = Counter(b)
    h = -sum(v / n * math.log2(v / n) for v in c.values())
    e = n / 256
    chi = sum((c.get(i, 0) - e) ** 2 / e for i in range(256))
    return h, chi


def entropy_profile(path: Path, max_regions: int = MAX_REGIONS, sample: int = SAMPLE) -> dict:
    """Entropy of each region of the file (see the module docstring); plus its summary."""
    size = path.stat().st_size
    block = max(16384, -(-size // max_regions))
    block = -(-block // 4096) * 4096
    values, chis = [], []
    with open(path, "rb") as fh:
        for off in range(0, size, block):
            fh.seek(off)
            h, chi = _entropy(fh.read(min(block, sample)))
            values.append(round(h, 3))
            chis.append(chi)
    body = [(h, c) for h, c in zip(values, chis) if h >= 0.5]  # padding (0x00 / 0xFF runs) left out
    hs = sorted(h for h, _ in body) or [0.0]
    cs = sorted(c for _, c in body) or [0.0]
    return {"region_size": block, "sample_bytes": min(block, sample), "values": values,
            "mean": round(sum(hs) / len(hs), 3), "min": hs[0], "max": hs[-1],
            "p10": hs[len(hs) // 10], "chi_square_median": round(cs[len(cs) // 2], 1)}


def likely_cause(ent: dict) -> str:
    """encrypted / compressed / unknown_format from an entropy profile (see the module docstring).
    Random data gives a chi-square near 255 per 64 KiB sample; deflate, zstd and bzip2 data give
    several hundred to thousands (measured on the corpus's kernels); LZMA / XZ give ~255 as well."""
    n = max(ent.get("sample_bytes") or SAMPLE, 256)
    # random data of n bytes falls short of 8 bits/byte by about 255 / (2 n ln 2): allow twice that
    if ent["p10"] >= 8 - 255 / (n * math.log(2)) - 0.01 and ent["chi_square_median"] < 400:
        return "encrypted"
    if ent["mean"] >= 7.5:
        return "compressed"
    return "unknown_format"


CAUSES = {
    "encrypted": Text(
        en="it is most likely encrypted: its entropy is high and flat throughout and its byte counts are as even "
           "as random data (LZMA/XZ data without a header firmpass recognises looks the same)",
        zh="很可能已加密：整个文件熵值高且平坦，字节分布与随机数据一样均匀（没有可识别头部的 LZMA/XZ 数据也是如此）"),
    "compressed": Text(
        en="it is most likely compressed with a method or header firmpass does not recognise: its entropy is high "
           "with the byte bias of compressed data",
        zh="很可能使用 firmpass 不认识的方法或头部格式压缩：熵值高，且字节分布带有压缩数据的偏差"),
    "unknown_format": Text(
        en="it is most likely a vendor format firmpass does not know: its content is structured (not encrypted "
           "or compressed as a whole)",
        zh="很可能是 firmpass 不认识的厂商格式：内容有结构（并非整体加密或压缩）"),
}

SHORT = {
    "encrypted": Text(en="likely encrypted", zh="可能已加密"),
    "compressed": Text(en="likely compressed with an unknown method", zh="可能以未知方法压缩"),
    "unknown_format": Text(en="likely an unknown vendor format", zh="可能是未知的厂商格式"),
}
