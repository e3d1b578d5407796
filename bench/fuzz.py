"""A mutation fuzzer for firmpass's parsers: one harness per unpack handler (through Unpacker.run,
the entry the scan uses) and per side-input parser (--vex, package databases).

Written here rather than with atheris: atheris needs a libFuzzer-instrumented build to be useful and
the parsers that matter most are C libraries (libarchive, zlib, liblzma) reached through Python; a
seeded byte mutator over real samples finds the Python-side gaps (unchecked lengths, wrong types,
recursion, hangs) that matter for the promises in docs/security.md.

Seeds are made by code (tests/hostile/names.py builds squashfs/ext4/jffs2/tar/cpio/zip images with
the system tools; streams and containers are built below).  A run is reproducible: the mutation of
iteration i of harness h with --seed s is a pure function of (h, s, i), so a crasher is kept as a
regression test by naming those three numbers (tests/hostile/test_fuzz.py), not as a binary.

What counts as a crash:
- unpack handlers: any exception escaping Unpacker.run other than LimitExceeded (the engine turns
  every parser failure into a warning; an escape would end the scan), or one input taking longer
  than HANG_S (the engine's own --timeout is set to HANG_S, so a hang means a loop that never
  checks it);
- --vex: any exception other than the ValueError/OSError family check_vex_file promises (anything
  else would reach the user as an internal error);
- package database parsers: any exception (identify catches them, but a parser should not raise on
  text) or a hang.

    python -m bench.fuzz --seconds 60            # every harness for 60 s
    python -m bench.fuzz --seconds 600 tar cpio  # the issue's 10 minutes, for two harnesses
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import mmap
import random
import struct
import sys
import tarfile
import tempfile
import time
import traceback
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANG_S = 20.0
INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
               b"\x00\x00\x00\x80", b"\x00\x00\x01\x00", struct.pack("<Q", 1 << 40)]


# ------------------------------------------------------------------------------------ mutation
def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """1-4 random edits: bit flips, interesting values, truncation, chunk duplication or removal,
    random insertion, splice with another seed."""
    b = bytearray(data or b"\0")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(b)
        if op == 0:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            v = rng.choice(INTERESTING)
            i = rng.randrange(n)
            b[i:i + len(v)] = v
        elif op == 2 and n > 1:
            del b[rng.randrange(1, n):]
        elif op == 3:
            i, j = sorted(rng.randrange(n + 1) for _ in range(2))
            b[j:j] = b[i:j][: 1 << 16]
        elif op == 4 and n > 2:
            i, j = sorted(rng.randrange(n) for _ in range(2))
            del b[i:j]
        elif op == 5:
            i = rng.randrange(n + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 64))
        elif op == 6 and others:
            o = rng.choice(others)
            i, j = rng.randrange(n + 1), rng.randrange(len(o) + 1)
            b = b[:i] + bytearray(o[j:j + rng.randint(1, 4096)])
        else:  # a header-sized field overwritten with a random 32-bit value
            i = rng.randrange(max(1, min(n, 4096)))
            b[i:i + 4] = rng.randbytes(4)
    return bytes(b)


def mutate_json(data: bytes, rng: random.Random) -> bytes:
    """A structural edit of a JSON document: one value replaced by another type (huge number, deep
    nesting, list for object, string for list...), so the mutation reaches past the JSON parser."""
    try:
        obj = json.loads(data)
    except ValueError:
        return data
    paths: list[tuple] = []

    def walk(o, p):
        paths.append(p)
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, p + (k,))
        elif isinstance(o, list):
            for k, v in enumerate(o):
                walk(v, p + (k,))
    walk(obj, ())
    target = rng.choice(paths[1:] or paths)
    repl = rng.choice([None, 0, -1, 10 ** rng.randint(1, 400), 1.5e308, "", "x" * rng.randint(1, 5000), [], {},
                       [{}], {"a": [1, {"b": None}]}, True, "pkg:", "CVE-", ["x"] * 3, "\x00\u202e"])
    if rng.random() < 0.1:
        repl = []
        for _ in range(rng.randint(10, 3000)):
            repl = [repl]
    if not target:
        return json.dumps(repl).encode()
    cur = obj
    for k in target[:-1]:
        cur = cur[k]
    cur[target[-1]] = repl
    try:
        return json.dumps(obj).encode()
    except (ValueError, RecursionError):
        return data


def case_rng(harness: str, seed: int, i: int) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(f"{harness}/{seed}/{i}".encode()).digest()[:8], "big"))


# --------------------------------------------------------------------------------------- seeds
def _tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in (("etc/passwd", b"root::0:0::/root:/bin/sh\n"), ("etc/init.d/rcS", b"telnetd\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("bin/sh")
        ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
        t.addfile(ti)
    return buf.getvalue()


def seeds(tmp: Path) -> dict[str, list[bytes]]:
    """Seed inputs per harness, all made here or by tests/hostile/names.py."""
    sys.path.insert(0, str(ROOT))
    import shutil

    from tests.hostile import names

    out: dict[str, list[bytes]] = {}
    tools = {"squashfs": "mksquashfs", "ext4": "mke2fs", "jffs2": "mkfs.jffs2", "cpio": "cpio", "zip": "zip"}
    for fmt, tool in tools.items():
        if shutil.which(tool):
            out[fmt] = [names.build(fmt, tmp / fmt).read_bytes()]
    tar = _tar_bytes()
    out["tar"] = [tar, names.build("tar", tmp / "tar").read_bytes()]
    out["gzip"] = [gzip.compress(tar)]
    out["xz"] = [lzma.compress(tar)]
    out["lzma"] = [lzma.compress(tar, format=lzma.FORMAT_ALONE)]
    import bz2
    out["bzip2"] = [bz2.compress(tar)]
    try:
        import zstandard
        out["zstd"] = [zstandard.ZstdCompressor().compress(tar)]
    except ImportError:
        pass
    blk = 4096
    raw = tar + b"\0" * (-len(tar) % blk)
    nblk = len(raw) // blk
    out["android-sparse"] = [struct.pack("<I4H4I", 0xED26FF3A, 1, 0, 28, 12, blk, nblk + 4, 3, 0)
                             + struct.pack("<2H2I", 0xCAC1, 0, nblk, 12 + len(raw)) + raw
                             + struct.pack("<2H2I", 0xCAC2, 0, 2, 16) + b"\x11\x22\x33\x44"
                             + struct.pack("<2H2I", 0xCAC3, 0, 2, 12)]
    gz = out["gzip"][0]
    # TRX v1: magic, length, crc, flags/version, three partition offsets
    hdr_len = 28
    out["trx"] = [struct.pack("<4sIIHH3I", b"HDR0", hdr_len + len(gz), zlib.crc32(gz), 0, 1, hdr_len, 0, 0) + gz]
    # legacy uImage: 64-byte header (big endian), gzip payload
    body = gz
    h = struct.pack(">IIIIIIIBBBB32s", 0x27051956, 0, 0, len(body), 0x80008000, 0x80008000, zlib.crc32(body),
                    5, 2, 3, 1, b"fuzz")
    h = h[:4] + struct.pack(">I", zlib.crc32(h)) + h[8:]
    out["uimage"] = [h + body]
    vex = {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"bom-ref": "b", "name": "busybox",
           "purl": "pkg:generic/busybox@1.36.1"}], "vulnerabilities": [{"id": "CVE-2023-0001", "analysis": {
               "state": "not_affected", "justification": "code_not_present"}, "affects": [{"ref": "b"}]}]}
    ovex = {"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-2023-1"},
            "products": [{"@id": "pkg:generic/openssl@3.0.7"}], "status": "fixed"}]}
    out["vex"] = [json.dumps(vex).encode(), json.dumps(ovex).encode()]
    out["dpkg-status"] = [b"Package: busybox\nStatus: install ok installed\nVersion: 1:1.36.1-3\n"
                          b"Source: busybox (1.36.1-3)\nDepends: libc6 (>= 2.34)\n\nPackage: libssl3\n"
                          b"Status: install ok installed\nVersion: 3.0.11-1~deb12u2\n"]
    out["apk-installed"] = [b"P:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\nF:bin\nR:busybox\n\n"
                            b"P:musl\nV:1.2.4-r2\nD:so:libc.so\n"]
    return out


# ------------------------------------------------------------------------------------ harnesses
class Crash(Exception):
    pass


def run_handler(name: str, data: bytes, work: Path) -> str:
    """One input through the handler `name` as the scan runs it; returns an outcome label."""
    from firmpass.context import Limits, ScanContext, ScanOptions
    from firmpass.errors import LimitExceeded
    from firmpass.model import ImageInfo, ScanResult, ToolInfo
    from firmpass.unpack import handlers  # noqa: F401 - registers the handlers
    from firmpass.unpack.engine import REGISTRY, Src, Unpacker

    h = next(x for x in REGISTRY if x.name == name or name in x.aliases)
    img = work / "input.bin"
    img.write_bytes(data or b"\0")
    out = work / "out"
    res = ScanResult(tool=ToolInfo(version="fuzz"), image=ImageInfo(path=str(img), name="input.bin", sha256="-",
                                                                      sha512="-", size=len(data)))
    lim = Limits(max_seconds=HANG_S, max_total_bytes=256 << 20, max_file_bytes=64 << 20, max_files=20_000)
    ctx = ScanContext(image=img, out=out, result=res, options=ScanOptions(limits=lim))
    u = Unpacker(ctx)
    u.reset_output()
    node = u.new_node(None, h.name, size=len(data), blob=str(img))
    t0 = time.monotonic()
    outcome = None
    with open(img, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            # as the scan does (Unpacker.identify): a handler only gets what its probe accepted, and a
            # probe that raises means "not this format"
            try:
                accepted = h.probe(mm, 0, len(mm)) is not None
            except Exception:  # noqa: BLE001
                accepted = False
            if not accepted:
                outcome = "rejected"
            else:
                u.run(h, node, Src(img, mm, 0, len(mm)), 0)
        except LimitExceeded:
            outcome = "limit"
        except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
            raise Crash(f"{type(e).__name__} escaped Unpacker.run: {e}") from e
        finally:
            try:
                mm.close()
            except BufferError:
                pass
    # a limit reached long after the deadline is a hang too: a loop that does not check it
    if time.monotonic() - t0 > HANG_S * 1.5:
        raise Crash(f"took {time.monotonic() - t0:.0f} s (limit {HANG_S:g} s)")
    return outcome or node.status


def run_vex(data: bytes, work: Path) -> str:
    from firmpass.vulns.vex import check_vex_file

    p = work / "vex.json"
    p.write_bytes(data)
    try:
        check_vex_file(p)
        return "ok"
    except (ValueError, OSError, EOFError, zlib.error):
        return "refused"
    except Exception as e:  # noqa: BLE001
        raise Crash(f"{type(e).__name__} from check_vex_file: {e}") from e


def run_text(parser, data: bytes) -> str:
    t0 = time.monotonic()
    try:
        parser(data.decode("utf-8", "replace"))
    except Exception as e:  # noqa: BLE001
        raise Crash(f"{type(e).__name__} from {parser.__name__}: {e}") from e
    if time.monotonic() - t0 > HANG_S:
        raise Crash("hang")
    return "ok"


def harness(name: str):
    from firmpass.identify import pkgdb

    if name == "vex":
        return lambda data, work: run_vex(data, work)
    if name == "dpkg-status":
        return lambda data, work: run_text(pkgdb.parse_dpkg_status, data)
    if name == "apk-installed":
        return lambda data, work: run_text(pkgdb.parse_apk_installed, data)
    fmt = {"ext4": "ext"}.get(name, name)
    return lambda data, work: run_handler(fmt, data, work)


def fuzz(name: str, seed_inputs: list[bytes], others: list[bytes], seconds: float | None = None,
         iterations: int | None = None, seed: int = 0, start: int = 0) -> dict:
    run = harness(name)
    stats: dict = {"harness": name, "iterations": 0, "outcomes": {}, "crashes": []}
    t_end = time.monotonic() + (seconds or 0)
    i = start
    with tempfile.TemporaryDirectory(prefix=f"firmpass-fuzz-{name}-") as d:
        work = Path(d)
        while (iterations is None or stats["iterations"] < iterations) and (seconds is None or time.monotonic() < t_end):
            rng = case_rng(name, seed, i)
            data = _input(name, rng, seed_inputs, others)
            try:
                outcome = run(data, work)
            except Crash as e:
                stats["crashes"].append({"i": i, "seed": seed, "error": str(e)[:300],
                                         "trace": traceback.format_exc(limit=-4)[-1500:]})
                outcome = "CRASH"
            stats["outcomes"][outcome] = stats["outcomes"].get(outcome, 0) + 1
            stats["iterations"] += 1
            i += 1
    return stats


def replay(name: str, seed: int, i: int, tmp: Path) -> bytes:
    """The input of iteration i of harness `name` under `seed` (for regression tests)."""
    s = seeds(tmp)
    others = [x for v in s.values() for x in v]
    return _input(name, case_rng(name, seed, i), s[name], others)


def _input(name: str, rng: random.Random, seed_inputs: list[bytes], others: list[bytes]) -> bytes:
    base = rng.choice(seed_inputs)
    if name == "vex" and rng.random() < 0.7:
        return mutate_json(base, rng)
    return mutate(base, rng, others)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="per harness")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("harnesses", nargs="*")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="firmpass-fuzz-seeds-") as d:
        s = seeds(Path(d))
    others = [x for v in s.values() for x in v]
    names = a.harnesses or sorted(s)
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in names:
        st = fuzz(name, s[name], others, seconds=a.seconds, seed=a.seed)
        total += len(st["crashes"])
        print(f"{name:<16} {st['iterations']:>7} inputs  {len(st['crashes']):>3} crashes  {st['outcomes']}", flush=True)
        for c in st["crashes"][:5]:
            print(f"    crash: harness={name} seed={c['seed']} i={c['i']}: {c['error']}")
        (out_dir / f"fuzz-{name}.json").write_text(json.dumps(st, indent=1))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
