"""Raw LZO1X decompression (squashfs, JFFS2 and UBIFS blocks) through lzallright, a binding that
ships wheels (python-lzo needs liblzo2-dev and a compiler at install time).  ubi-reader and
jefferson use the same binding, so this adds no dependency."""
from __future__ import annotations


def decompress(data: bytes, expected: int) -> bytes:
    """A raw LZO1X block (no lzop header) that must decompress to at most `expected` bytes.

    lzallright takes the size as a hint only and grows its buffer past it; a block's output is bounded
    here instead (a raw LZO block expands at most ~255x, and callers pass blocks of a page or a
    filesystem block), and trailing bytes or a longer output are damage, as liblzo reports them."""
    from lzallright import LZOCompressor, LZOError

    try:
        out = LZOCompressor.decompress(bytes(data), output_size_hint=max(int(expected), 1))
    except LZOError as e:  # InputNotConsumed is a subclass: trailing garbage after the stream
        raise ValueError(f"LZO data is damaged ({type(e).__name__})") from None
    if len(out) > expected:
        raise ValueError(f"LZO block decompresses to {len(out)} bytes, more than the {expected} its header gives")
    return out
