"""Linux kernel version from a kernel image, a uImage name or the modules' vermagic.

Sources, strongest first:
1. the x86 boot protocol's kernel_version string (bzImage setup header, offset 0x20e);
2. a 'Linux version x.y.z' banner in the raw image (uncompressed Image / vmlinux);
3. the same banner inside the compressed payload (bzImage payload_offset, or carved by magic):
   gzip, xz, lzma, zstd, lz4 (legacy frame), lzo (lzop file) and bzip2 - every compressor the
   kernel's CONFIG_KERNEL_* offers - decompressed in a stream, bounded in bytes and in time;
4. vermagic= of kernel modules (2.6+ *.ko) and kernel_version= of Linux 2.4 modules (*.o);
5. a version in the uImage / FIT image name.
Distribution kernels name their ABI (6.1.0-56-cloud-amd64) in the release string and the real
upstream version elsewhere ('Debian 6.1.192-2'); the upstream version is what vulnerability data uses.
"""
from __future__ import annotations

import bz2
import lzma
import re
import struct
import time
import zlib

# the whole banner line, as linux_banner prints it: "Linux version R (builder) (compiler) #N ...\n"; a
# banner cut short (the literal run of an LZ4 stream stops mid-line) is not taken
BANNER = re.compile(rb"Linux version (\d+\.\d+(?:\.\d+)?[^\s\x00]*) \(([^\x00\n]{0,300}#\d[^\x00\n]{0,200})\n")
RELEASE = re.compile(r"^(\d+\.\d+(?:\.\d+)?)")
DISTRO_UPSTREAM = re.compile(r"(?:Debian|Ubuntu|Raspbian)\s+(\d+\.\d+\.\d+)")
# a module's .modinfo: vermagic= since Linux 2.6 (*.ko), kernel_version= in Linux 2.4 modules (*.o)
VERMAGIC = re.compile(rb"(?:^|\x00)(vermagic|kernel_version)=(\d+\.\d+(?:\.\d+)?[^\s\x00]*)")
NAME_VERSION = re.compile(r"(?:Linux|linux|kernel)[-_ ]?v?(\d+\.\d+(?:\.\d+)?)")
MAX_OUT = 96 << 20  # bytes of decompressed kernel we are willing to produce
CHUNK = 1 << 20
# CPU seconds for all payload candidates of one kernel image (CPU time, not wall time: the bound is the
# work done, so a loaded machine finds the same versions, only later; bzip2, the slowest, needs ~2.5 s)
MAX_SECONDS = 10.0


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


def _stream_gzip(data, off: int):
    """gzip payload (zImage, vmlinuz.gz, uImage comp=gzip).  Input is fed once: a chunk goes in, then
    only zlib's unconsumed_tail until it is used up, then the next chunk (output is bounded per call)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pos = off
    while not d.eof:
        if d.unconsumed_tail:
            inp = d.unconsumed_tail
        elif pos < len(data):
            inp = data[pos: pos + CHUNK]
            pos += len(inp)
        else:
            return  # truncated stream: what came out was searched
        out = d.decompress(inp, CHUNK)
        if out:
            yield out


def _stream_incremental(d, data, off: int):
    """lzma / xz / bzip2: the decompress(data, max_length) / needs_input API of the standard library."""
    pos = off
    while not d.eof:
        if d.needs_input:
            if pos >= len(data):
                return
            inp = data[pos: pos + CHUNK]
            pos += len(inp)
        else:
            inp = b""
        out = d.decompress(inp, CHUNK)
        if out:
            yield out


def _stream_zstd(data, off: int):
    import io

    import zstandard

    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data[off:]), read_across_frames=False) as r:
        while True:
            b = r.read(CHUNK)
            if not b:
                return
            yield b


def _stream_lz4_legacy(data, off: int):
    """LZ4 legacy frame (magic 0x184C2102, what the kernel's 'lz4 -l' writes): blocks of u32 compressed
    size, each <= 8 MiB decompressed."""
    import lz4.block

    pos = off + 4
    while pos + 4 <= len(data):
        (n,) = struct.unpack("<I", data[pos: pos + 4])
        if n == 0x184C2102:  # concatenated frames
            pos += 4
            continue
        if n == 0 or n > (8 << 20) + 1024 or pos + 4 + n > len(data):
            return
        yield lz4.block.decompress(bytes(data[pos + 4: pos + 4 + n]), uncompressed_size=8 << 20)
        pos += 4 + n


LZOP_MAGIC = b"\x89LZO\x00\r\n\x1a\n"


def _stream_lzo(data, off: int):
    """lzop file (what the kernel's 'lzop -9' writes for CONFIG_KERNEL_LZO): a header, then blocks of
    (u32 BE uncompressed size, u32 BE compressed size, optional checksums, LZO1X data); a block whose
    compressed size equals its size is stored.  Parsed here from the lzop layout because no Python
    library reads lzop files; each block is LZO1X through firmpass.formats.lzo (lzallright)."""
    from firmpass.formats.lzo import decompress as lzo_decompress

    b = bytes(data[off: off + 512])
    if not b.startswith(LZOP_MAGIC):
        return
    version = struct.unpack(">H", b[9:11])[0]
    pos = 9 + 2 + 2  # magic, version, library version
    if version >= 0x0940:
        pos += 2  # version needed to extract
    pos += 1  # method
    if version >= 0x0940:
        pos += 1  # level
    (flags,) = struct.unpack(">I", b[pos: pos + 4])
    pos += 4
    if flags & 0x800:  # F_H_FILTER
        pos += 4
    pos += 4 + 4  # mode, mtime low
    if version >= 0x0940:
        pos += 4  # mtime high
    pos += 1 + b[pos] + 4  # file name (length-prefixed), header checksum
    if flags & 0x1000:  # F_H_EXTRA_FIELD
        return
    pos += off
    nd = bool(flags & 0x001) + bool(flags & 0x100)  # checksums of the uncompressed data
    nc = bool(flags & 0x002) + bool(flags & 0x200)  # checksums of the compressed data
    while pos + 8 <= len(data):
        dst, src = struct.unpack(">II", data[pos: pos + 8])
        if dst == 0 or dst > (64 << 20) or src > dst:
            return
        pos += 8 + 4 * nd + (4 * nc if src < dst else 0)
        if pos + src > len(data):
            return
        block = bytes(data[pos: pos + src])
        yield block if src == dst else lzo_decompress(block, dst)
        pos += src


def _bzip2_ok(data, off: int) -> bool:
    return 0x31 <= data[off + 3] <= 0x39 and bytes(data[off + 4: off + 10]) == b"1AY&SY"


MAGICS = [
    (b"\x1f\x8b\x08", "gzip", lambda d, o: _stream_gzip(d, o)),
    (b"\xfd7zXZ\x00", "xz", lambda d, o: _stream_incremental(lzma.LZMADecompressor(lzma.FORMAT_XZ), d, o)),
    (b"\x28\xb5\x2f\xfd", "zstd", _stream_zstd),
    (b"\x02\x21\x4c\x18", "lz4", _stream_lz4_legacy),
    (LZOP_MAGIC, "lzo", _stream_lzo),
    (b"BZh", "bzip2", lambda d, o: _stream_incremental(bz2.BZ2Decompressor(), d, o)),
    (b"\x5d\x00\x00", "lzma", lambda d, o: _stream_incremental(lzma.LZMADecompressor(lzma.FORMAT_ALONE), d, o)),
]
COMPRESSORS = tuple(name for _, name, _ in MAGICS)  # the payload compressors read (README, tests)


def _search_stream(gen, limit: int, deadline: float) -> dict | None:
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
            if total > limit or time.process_time() > deadline:
                return None
    except Exception:  # noqa: BLE001 - a wrong guess at a magic, corrupt data: try the next candidate
        return None
    return None


def _plausible(data, off: int, name: str) -> bool:
    """Cheap header checks before a candidate is decompressed (the magics of bzip2 and LZMA are short)."""
    if name == "bzip2":
        return off + 10 <= len(data) and _bzip2_ok(data, off)
    if name == "lzma":  # properties byte 0x5d (lc=3 lp=0 pb=2) and a power-of-two-ish dictionary
        if off + 13 > len(data):
            return False
        dic = struct.unpack("<I", bytes(data[off + 1: off + 5]))[0]
        return (1 << 16) <= dic <= (1 << 30)
    return True


def payload_compression(data, start: int = 0x30, window: int = 256 << 10, probe: int = 64 << 10) -> tuple[str, int] | None:
    """(compressor, offset) of the first payload in data[start:start+window] that decodes: each candidate is
    given at most `probe` bytes of input, so a wrong guess costs little (the unpack stage records it)."""
    cands = []
    for magic, name, fn in MAGICS:
        i = data.find(magic, start, start + window)
        while i >= 0 and len(cands) < 32:
            if _plausible(data, i, name):
                cands.append((i, name, fn))
            i = data.find(magic, i + 1, start + window)
    for off, name, fn in sorted(cands, key=lambda c: c[0]):
        if name == "bzip2":  # 10 bytes of header (magic, level, block magic) checked; a block needs ~1 MB
            return name, off
        if name == "lz4":  # a 4-byte magic and a sane first block size; a block needs up to 8 MB
            if off + 8 <= len(data) and 0 < struct.unpack("<I", bytes(data[off + 4: off + 8]))[0] <= (8 << 20) + 1024:
                return name, off
            continue
        try:
            out = next(iter(fn(memoryview(data)[: off + probe], off)), b"")
        except Exception:  # noqa: BLE001 - not this compressor
            continue
        if len(out) >= 4096:
            return name, off
    return None


def payload_version(data: bytes, limit: int = MAX_OUT, max_candidates: int = 16,
                    seconds: float = MAX_SECONDS, known: tuple[str, int] | None = None) -> dict | None:
    """Find the compressed payload (the one the unpack stage recorded, `known` = (compressor, offset), first;
    then bzImage payload_offset, then by magic) and look for the banner.
    Bounded: at most `limit` bytes decompressed per candidate and `seconds` of CPU time for all of them."""
    deadline = time.process_time() + seconds
    starts: list[tuple[int, str, object]] = []
    if known is not None:
        starts += [(known[1], name, fn) for magic, name, fn in MAGICS
                   if name == known[0] and data[known[1]: known[1] + len(magic)] == magic]
    if len(data) > 0x260 and data[0x202:0x206] == b"HdrS":
        setup = ((data[0x1F1] or 4) + 1) * 512
        poff = setup + struct.unpack("<I", data[0x248:0x24C])[0]
        for magic, name, fn in MAGICS:
            if data[poff: poff + len(magic)] == magic:
                starts.append((poff, name, fn))
    for magic, name, fn in MAGICS:
        pos, n = 0, 0
        while n < (2 if name in ("lzma", "bzip2") else 3):
            i = data.find(magic, pos)
            if i < 0:
                break
            pos = i + 1
            if _plausible(data, i, name):
                starts.append((i, name, fn))
                n += 1
    seen = set()
    for off, name, fn in starts[:max_candidates]:
        if off in seen or time.process_time() > deadline:
            continue
        seen.add(off)
        hit = _search_stream(fn(memoryview(data), off), limit, deadline)
        if hit:
            return hit | {"method": f"kernel-banner-{name}", "offset": off}
    return None


def kernel_version(data: bytes, decompress: bool = True, recorded: dict | None = None) -> dict | None:
    """Version of a kernel image blob, or None when it is not a (recognisable) Linux kernel.
    `recorded`: what the unpack stage's kernel leaf already read from this blob (ContainerNode.meta:
    the bzImage's version string, the zImage payload's compressor and offset), used rather than found again."""
    recorded = recorded or {}
    vs = recorded.get("version_string")
    # (unpack reads 256 bytes of it: a longer string is read again from the header, whole)
    hit = (parse_banner(vs) | {"method": "bzimage-header"} if isinstance(vs, str) and len(vs) < 255 and RELEASE.match(vs)
           else bzimage_version(data))
    if hit:
        return hit
    raw = _banner_in(data)
    if raw:
        return raw | {"method": "kernel-banner"}
    if decompress:
        known = (recorded.get("payload_compression"), recorded.get("payload_offset"))
        return payload_version(data, known=known if isinstance(known[1], int) else None)
    return None


def looks_like_kernel(name: str, head: bytes) -> bool:
    return (head[0x202:0x206] == b"HdrS" or re.match(r"^(vmlinu[xz]|[bz]Image|Image|uImage|kernel)", name) is not None
            or head[:4] == b"\x27\x05\x19\x56")


def vermagic(data: bytes) -> str | None:
    """The kernel release a module was built for (vermagic= or, Linux 2.4, kernel_version=)."""
    m = module_tag(data)
    return m[1] if m else None


def module_tag(data: bytes) -> tuple[str, str] | None:
    """(tag, release) of a kernel module: ('vermagic', '3.18.109') or ('kernel_version', '2.4.20')."""
    m = VERMAGIC.search(data)
    return (m.group(1).decode(), m.group(2).decode("ascii", "replace")) if m else None


def is_module(path: str) -> bool:
    """A kernel module by its name: *.ko (2.6+), or *.o under /lib/modules (2.4)."""
    return path.endswith(".ko") or (path.endswith(".o") and "/lib/modules/" in path)


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
