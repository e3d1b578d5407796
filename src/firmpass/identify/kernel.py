"""Linux kernel version from a kernel image, a uImage name or the modules' vermagic.

Sources, strongest first:
1. the x86 boot protocol's kernel_version string (bzImage setup header, offset 0x20e);
2. a 'Linux version x.y.z' banner in the raw image (uncompressed Image / vmlinux);
3. the same banner inside the compressed payload (bzImage payload_offset, or carved by magic):
   gzip, xz, lzma, zstd, lz4 (legacy frame), decompressed in a stream, bounded in bytes;
4. vermagic= of kernel modules (*.ko);
5. a version in the uImage / FIT image name.
Distribution kernels name their ABI (6.1.0-56-cloud-amd64) in the release string and the real
upstream version elsewhere ('Debian 6.1.192-2'); the upstream version is what vulnerability data uses.
"""
from __future__ import annotations

import lzma
import re
import struct
import zlib

BANNER = re.compile(rb"Linux version (\d+\.\d+(?:\.\d+)?[^\s\x00]*) \(([^\x00\n]{0,300})")
RELEASE = re.compile(r"^(\d+\.\d+(?:\.\d+)?)")
DISTRO_UPSTREAM = re.compile(r"(?:Debian|Ubuntu|Raspbian)\s+(\d+\.\d+\.\d+)")
VERMAGIC = re.compile(rb"vermagic=(\d+\.\d+(?:\.\d+)?[^\s\x00]*)")
NAME_VERSION = re.compile(r"(?:Linux|linux|kernel)[-_ ]?v?(\d+\.\d+(?:\.\d+)?)")
MAX_OUT = 96 << 20  # bytes of decompressed kernel we are willing to produce
CHUNK = 1 << 20


def parse_banner(release_and_rest: str) -> dict:
    """'6.1.0-56-cloud-amd64 (...) #1 SMP ... Debian 6.1.192-2 (...)' -> version, release."""
    release = release_and_rest.split()[0]
    # the distro's upstream version follows the build number ('#1 SMP ... Debian 6.1.192-2'); the
    # compiler's own 'Debian 12.2.0-14' sits earlier, in the gcc parentheses
    hash_at = release_and_rest.rfind("#")
    m = DISTRO_UPSTREAM.search(release_and_rest[hash_at:]) if hash_at >= 0 else None
    version = m.group(1) if m else RELEASE.match(release).group(1)
    return {"version": version, "release": release, "banner": release_and_rest[:300]}


def bzimage_version(data: bytes) -> dict | None:
    if len(data) < 0x260 or data[0x202:0x206] != b"HdrS":
        return None
    off = struct.unpack("<H", data[0x20E:0x210])[0] + 0x200
    if not (0x200 < off < min(len(data), 0x10000)):
        return None
    s = data[off: off + 400].split(b"\0")[0].decode("ascii", "replace")
    if not RELEASE.match(s):
        return None
    return parse_banner(s) | {"method": "bzimage-header"}


def _banner_in(buf: bytes) -> dict | None:
    m = BANNER.search(buf)
    if not m:
        return None
    rest = (m.group(1) + b" (" + m.group(2)).decode("ascii", "replace")
    if not re.fullmatch(r"[\x20-\x7e]+", rest):  # a broken banner (e.g. literal runs of an lz4 stream)
        return None
    return parse_banner(rest)


def _stream_gzip(data: bytes, off: int):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pos = off
    while pos < len(data):
        out = d.decompress(data[pos: pos + CHUNK], CHUNK)
        pos += CHUNK - len(d.unconsumed_tail) if d.unconsumed_tail else CHUNK
        yield out
        while d.unconsumed_tail:
            tail = d.unconsumed_tail
            out = d.decompress(tail, CHUNK)
            yield out
        if d.eof:
            return


def _stream_lzma(data: bytes, off: int, fmt: int):
    d = lzma.LZMADecompressor(format=fmt)
    pos = off
    while pos < len(data) and not d.eof:
        inp = data[pos: pos + CHUNK] if d.needs_input else b""
        if d.needs_input:
            pos += CHUNK
        yield d.decompress(inp, CHUNK)


def _stream_zstd(data: bytes, off: int):
    import io

    import zstandard

    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data[off:]), read_across_frames=False) as r:
        while True:
            b = r.read(CHUNK)
            if not b:
                return
            yield b


def _stream_lz4_legacy(data: bytes, off: int):
    """LZ4 legacy frame (magic 0x184C2102): blocks of u32 compressed size, each <= 8 MiB decompressed."""
    import lz4.block

    pos = off + 4
    while pos + 4 <= len(data):
        (n,) = struct.unpack("<I", data[pos: pos + 4])
        if n == 0x184C2102:  # concatenated frames
            pos += 4
            continue
        if n == 0 or n > (8 << 20) + 1024 or pos + 4 + n > len(data):
            return
        yield lz4.block.decompress(data[pos + 4: pos + 4 + n], uncompressed_size=8 << 20)
        pos += 4 + n


MAGICS = [
    (b"\x1f\x8b\x08", "gzip", lambda d, o: _stream_gzip(d, o)),
    (b"\xfd7zXZ\x00", "xz", lambda d, o: _stream_lzma(d, o, lzma.FORMAT_XZ)),
    (b"\x28\xb5\x2f\xfd", "zstd", _stream_zstd),
    (b"\x02\x21\x4c\x18", "lz4", _stream_lz4_legacy),
    (b"\x5d\x00\x00", "lzma", lambda d, o: _stream_lzma(d, o, lzma.FORMAT_ALONE)),
]


def _search_stream(gen, limit: int) -> dict | None:
    total, prev = 0, b""
    try:
        for out in gen:
            if not out:
                continue
            if total == 0 and out[0x202:0x206] == b"HdrS":  # a compressed bzImage (uImage payload): read its header
                hit = bzimage_version(out)
                if hit:
                    return {k: v for k, v in hit.items() if k != "method"}
            buf = prev[-400:] + out
            hit = _banner_in(buf)
            if hit:
                return hit
            prev = out
            total += len(out)
            if total > limit:
                return None
    except Exception:  # noqa: BLE001 - a wrong guess at a magic, corrupt data: try the next candidate
        return None
    return None


def payload_version(data: bytes, limit: int = MAX_OUT, max_candidates: int = 12) -> dict | None:
    """Find the compressed payload (bzImage payload_offset first, then by magic) and look for the banner."""
    starts: list[tuple[int, str, object]] = []
    if len(data) > 0x260 and data[0x202:0x206] == b"HdrS":
        setup = ((data[0x1F1] or 4) + 1) * 512
        poff = setup + struct.unpack("<I", data[0x248:0x24C])[0]
        for magic, name, fn in MAGICS:
            if data[poff: poff + len(magic)] == magic:
                starts.append((poff, name, fn))
    for magic, name, fn in MAGICS:
        pos, n = 0, 0
        while n < (2 if name == "lzma" else 3):
            i = data.find(magic, pos)
            if i < 0:
                break
            starts.append((i, name, fn))
            pos, n = i + 1, n + 1
    seen = set()
    for off, name, fn in starts[:max_candidates]:
        if off in seen:
            continue
        seen.add(off)
        hit = _search_stream(fn(data, off), limit)
        if hit:
            return hit | {"method": f"kernel-banner-{name}", "offset": off}
    return None


def kernel_version(data: bytes, decompress: bool = True) -> dict | None:
    """Version of a kernel image blob, or None when it is not a (recognisable) Linux kernel."""
    hit = bzimage_version(data)
    if hit:
        return hit
    raw = _banner_in(data)
    if raw:
        return raw | {"method": "kernel-banner"}
    if decompress:
        return payload_version(data)
    return None


def looks_like_kernel(name: str, head: bytes) -> bool:
    return (head[0x202:0x206] == b"HdrS" or re.match(r"^(vmlinu[xz]|[bz]Image|Image|uImage|kernel)", name) is not None
            or head[:4] == b"\x27\x05\x19\x56")


def vermagic(data: bytes) -> str | None:
    m = VERMAGIC.search(data)
    return m.group(1).decode("ascii", "replace") if m else None


def version_from_name(name: str) -> str | None:
    m = NAME_VERSION.search(name or "")
    return m.group(1) if m else None


def parse_config(text: str, max_lines: int = 20000) -> dict[str, str]:
    """A kernel .config: CONFIG_X=value lines; '# CONFIG_X is not set' becomes 'n'."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines()):
        if n >= max_lines:
            break
        m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip().strip('"')
            continue
        m = re.match(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$", line)
        if m:
            out[m.group(1)] = "n"
    return out


def ikconfig(data: bytes) -> dict[str, str] | None:
    """The configuration embedded by CONFIG_IKCONFIG (gzip between IKCFG_ST and IKCFG_ED), bounded."""
    i = data.find(b"IKCFG_ST")
    if i < 0:
        return None
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = d.decompress(data[i + 8: i + 8 + (4 << 20)], 8 << 20)
    except zlib.error:
        return None
    cfg = parse_config(text.decode("utf-8", "replace"))
    return cfg or None
