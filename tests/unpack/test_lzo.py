"""Raw LZO1X blocks through lzallright: what a block's header promises bounds what comes out."""
from __future__ import annotations

import pytest
from lzallright import LZOCompressor

from firmpass.formats.lzo import decompress


def test_block_round_trip_and_bounds():
    data = (b"/bin/busybox\x00" * 400) + bytes(range(256)) * 8
    block = LZOCompressor().compress(data)
    assert decompress(block, len(data)) == data
    assert decompress(block, len(data) + 100) == data  # a larger stated size is an upper bound, not exact
    with pytest.raises(ValueError, match="more than"):
        decompress(block, len(data) - 1)  # more output than the header gives: damage, not a bigger buffer
    with pytest.raises(ValueError, match="damaged"):
        decompress(block + b"\x00\x11", len(data))  # trailing bytes after the stream
    with pytest.raises(ValueError, match="damaged"):
        decompress(block[: len(block) // 2], len(data))  # cut short
