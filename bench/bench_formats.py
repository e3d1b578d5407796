"""Format coverage: for each format firmpass opens, does it open, are the modes/owners true, are the
bytes identical to the reference extractor's, and how fast is it beside that extractor.

    python -m bench.bench_formats [--repeat N] [--markdown] [ROW-NAME-SUBSTRING ...]

Data-driven: one row is one entry of ROWS (a name, how to get the image, the reference extractor's
command, and what the truth is).  Truth is either the reference extractor's output tree ("ref"),
the corpus source tree the image was built from ("source", with the corpus spec for subsets and
owners), or for an image no installed tool can extract, `unsquashfs -lln`'s listing ("listing":
names, modes, owners and sizes; bytes are then not comparable and say so).  Speed: image MB per
second of firmpass's unpack stage (a fresh process, imports excluded) and of the reference command,
and their ratio (goal: firmpass <= 2x the native extractor where one exists).  An image under
STARTUP_MB is a start-up measurement (both sides' time is process and library start-up and per-entry
cost, not throughput): its ratio is shown as such; the archive formats also have a row of the whole
corpus rootfs (tests/unpack/rootfs_archives.py) where throughput decides.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.bench_unpack import JEFF, NATIVE, UBI, best, firmpass_run, native_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "formats"
SHARED = ROOT / ".." / "shared" / "data" / "formats"
STARTUP_MB = 1.0  # an image smaller than this measures start-up, not throughput
FSCK = "/usr/sbin/fsck.cramfs --extract={d}/x {img}"
UNSQ = "unsquashfs -q -n -no-xattrs -d {d}/x {img}"


def corpus_image(name: str) -> Callable[[Path], Path | None]:
    return lambda corpus: corpus / name if (corpus / name).exists() else None


def shared_image(name: str) -> Callable[[Path], Path | None]:
    return lambda corpus: SHARED / name if (SHARED / name).exists() else None


def legacy_squashfs(major: int, be: bool, codec: str) -> Callable[[Path], Path]:
    """A squashfs 1.x-3.x image of the whole corpus rootfs by the test writer (cached in bench/out)."""
    def make(corpus: Path) -> Path:
        from tests.unpack.sqlegacy_writer import build

        p = OUT / f"rootfs-v{major}-{'be' if be else 'le'}-{codec}.sqfs"
        if not p.exists():
            OUT.mkdir(parents=True, exist_ok=True)
            p.write_bytes(build(corpus / "rootfs", major, be, codec))
        return p
    return make


def yaffs2_image(page: int = 2048, spare: int = 64) -> Callable[[Path], Path]:
    """A YAFFS2 image of the whole corpus rootfs by the test writer (no Debian tool writes YAFFS2)."""
    def make(corpus: Path) -> Path:
        from tests.unpack.yaffs2_writer import write

        p = OUT / f"rootfs-{page}-{spare}.yaffs2"
        if not p.exists():
            OUT.mkdir(parents=True, exist_ok=True)
            write(corpus / "rootfs", p, page=page, spare=spare)
        return p
    return make


def rootfs_archive(kind: str) -> Callable[[Path], Path]:
    """The whole corpus rootfs as a tar.xz / tar.gz / zip / 7z by Debian's writers at their default level
    (tests/unpack/rootfs_archives.py; cached in bench/out): the archive formats at a size where
    throughput, not start-up, decides the ratio."""
    def make(corpus: Path) -> Path:
        from tests.unpack.rootfs_archives import write

        p = OUT / f"rootfs.{kind}"
        return p if p.exists() else write(corpus / "rootfs", kind, p)
    return make


def corpus_file(rel: str) -> Callable[[Path], Path | None]:
    return lambda corpus: corpus / rel if (corpus / rel).exists() else None


def vendor_magic(name: str, magic: bytes = b"shsq", comp_id: int | None = None) -> Callable[[Path], Path | None]:
    """A Debian mksquashfs image given a vendor's magic (and optionally a compressor id that lies)."""
    def make(corpus: Path) -> Path | None:
        if not (corpus / name).exists():
            return None
        p = OUT / f"{name}.{magic.decode()}{comp_id or ''}"
        if not p.exists():
            OUT.mkdir(parents=True, exist_ok=True)
            data = bytearray((corpus / name).read_bytes())
            data[:4] = magic
            if comp_id is not None:
                data[20:22] = comp_id.to_bytes(2, "little")
            p.write_bytes(bytes(data))
        return p
    return make


@dataclass
class Row:
    name: str  # as the table shows it
    image: Callable[[Path], Path | None]
    ref: str | None  # the reference extractor: a shell command writing {d}/x, or None
    truth: str  # "ref", "source" (spec: a corpus formats.json entry name or a dict) or "listing"
    spec: str | dict | None = None


ROWS = [
    Row("squashfs 4.0 LE gzip", corpus_image("rootfs-gzip.sqfs"), UNSQ, "ref"),
    Row("squashfs 4.0 LE xz", corpus_image("rootfs-xz.sqfs"), UNSQ, "ref"),
    Row("squashfs 4.0 LE lzo", corpus_image("rootfs-lzo.sqfs"), UNSQ, "ref"),
    Row("squashfs 4.0 LE lz4", corpus_image("rootfs-lz4.sqfs"), UNSQ, "ref"),
    Row("squashfs 4.0 LE zstd", corpus_image("rootfs-zstd.sqfs"), UNSQ, "ref"),
    Row("squashfs 3.0 LE gzip (writer)", legacy_squashfs(3, False, "gzip"), UNSQ, "ref"),
    Row("squashfs 3.0 BE gzip (writer)", legacy_squashfs(3, True, "gzip"), UNSQ, "ref"),
    Row("squashfs 2.0 LE gzip (writer)", legacy_squashfs(2, False, "gzip"), UNSQ, "ref"),
    Row("squashfs 1.0 BE gzip (writer)", legacy_squashfs(1, True, "gzip"), UNSQ, "ref"),
    Row("squashfs 3.0 LE LZMA-alone (writer)", legacy_squashfs(3, False, "lzma-alone"), None, "source", {}),
    Row("squashfs 3.0 BE LZMA props-only (writer)", legacy_squashfs(3, True, "lzma-props"), None, "source", {}),
    Row("squashfs 2.0 BE LZMA (real Broadcom sample)", shared_image("squashfs_v2.bin"), None, "listing"),
    Row("squashfs 4.0 BE gzip (writer)", legacy_squashfs(4, True, "gzip"), None, "source", {}),
    Row("squashfs 4.0 LE xz, vendor magic shsq (Debian image)", vendor_magic("rootfs-xz.sqfs"), None, "source",
        "rootfs-xz.sqfs"),
    Row("squashfs 4.0 LE xz, id says gzip (Debian image)", vendor_magic("rootfs-xz.sqfs", b"hsqs", 1), None, "source",
        "rootfs-xz.sqfs"),
    Row("jffs2 LE", corpus_image("rootfs.jffs2"), JEFF + " -f -d {d}/x {img}", "source", {"owners": False}),
    Row("jffs2 BE lzo", corpus_image("rootfs-be-lzo.jffs2"), None, "source", "rootfs-be-lzo.jffs2"),
    Row("ubi + ubifs", corpus_image("rootfs.ubi"), UBI + " -o {d}/x {img}", "source", {}),
    Row("ext4", corpus_image("rootfs.ext4"), NATIVE["rootfs.ext4"], "source", "rootfs.ext4"),
    Row("cpio newc (gzip)", corpus_image("initramfs.cpio.gz"), NATIVE["initramfs.cpio.gz"], "source", {"owners": False}),
    Row("tar (xz)", corpus_image("etc.tar.xz"), NATIVE["etc.tar.xz"], "source", "etc.tar.xz"),
    Row("zip", corpus_image("www.zip"), NATIVE["www.zip"], "source", "www.zip"),
    Row("tar (xz), whole rootfs", rootfs_archive("tar.xz"), "tar -xf {img} -C {d}", "source", {}),
    Row("tar (gzip), whole rootfs", rootfs_archive("tar.gz"), "tar -xf {img} -C {d}", "source", {}),
    Row("zip, whole rootfs", rootfs_archive("zip"), "bsdtar -xf {img} -C {d}", "source",
        {"owners": False, "no_devices": True}),
    # the source tree, not 7zz's output: 7zz does not restore a directory's sticky bit (/tmp 1777 -> 0755)
    Row("7z (7zz), whole rootfs", rootfs_archive("7z"), "7zz x -snl -snld -y -o{d}/x {img} >/dev/null", "source",
        {"owners": False, "no_devices": True}),
    Row("cramfs LE (mkfs.cramfs)", corpus_image("rootfs.cramfs"), FSCK, "ref"),
    Row("cramfs BE (mkfs.cramfs -N big)", corpus_image("rootfs-be.cramfs"), FSCK, "ref"),
    Row("cramfs (real sample)", shared_image("cramfs.bin"), FSCK, "ref"),
    Row("romfs (genromfs)", corpus_image("rootfs.romfs"), None, "source", {"owners": False}),
    Row("YAFFS2 2048/64 (writer)", yaffs2_image(), None, "source", {"owners": True}),
    Row("7z (7zz)", corpus_image("etc.7z"), "7zz x -snl -snld -y -o{d}/x {img} >/dev/null", "ref"),
    Row("RAR5 (rarfile's test archive)", corpus_file("rar/rar5-subdirs.rar"), "mkdir -p {d}/x && bsdtar -xf {img} -C {d}/x", "ref"),
]


def _fp_tree(img: Path, out: Path):
    from tests.unpack.conftest import unpack

    ctx = unpack(img, out)
    parts = [n for n in ctx.result.image.container_chain if n.id != "0" or n.format not in ("data", "?")]
    fs = ctx.filesystems()
    files = [f for f in ctx.result.files if fs and f.container == fs[-1]]
    ok = bool(files) and all(n.status == "ok" for n in parts if n.id in fs)
    return ok, files


def _listing(img: Path) -> dict:
    from tests.unpack.test_squashfs_legacy import _unsquashfs_listing

    return _unsquashfs_listing(img)


def _compare(files, out: Path, truth: dict, owners: bool = True) -> tuple[int, int, int]:
    """(entries, metadata differences, content differences) of firmpass's files against truth."""
    got = {f.path: f for f in files}
    meta = content = 0
    for p in set(truth) ^ set(got):
        meta += 1
    for p in set(truth) & set(got):
        t, f = truth[p], got[p]
        ftype = "file" if f.type == "hardlink" else f.type
        if ftype != t["type"] or f.mode != t["mode"] or (owners and (f.uid, f.gid) != (t["uid"], t["gid"])):
            meta += 1
        if t["type"] == "file":
            if "sha256" not in t:
                continue
            if f.disk_path is None or hashlib.sha256((out / f.disk_path).read_bytes()).hexdigest() != t["sha256"]:
                content += 1
    return len(truth), meta, content


def measure(row: Row, corpus: Path, repeat: int) -> dict | None:
    from tests.unpack.compare import source_tree

    img = row.image(corpus)
    if img is None:
        return None
    res = {"format": row.name, "image": img.name, "MB": img.stat().st_size / 1e6}
    with tempfile.TemporaryDirectory(prefix="fpformats-") as d:
        d = Path(d)
        ok, files = _fp_tree(img, d / "fp")
        res["opens"] = ok
        owners = True
        if row.truth == "ref":
            (d / "ref").mkdir()
            subprocess.run(["bash", "-c", row.ref.format(img=img, d=d / "ref")], capture_output=True, check=True)
            truth = source_tree(d / "ref" / "x")
        elif row.truth == "listing":
            truth = _listing(img)
        else:
            from tests.unpack.test_formats import BASE, _subset

            spec = row.spec
            if isinstance(spec, str):
                spec = BASE.get(spec) or json.loads((corpus / "formats.json").read_text())[spec]
            owners = spec.get("owners", True)
            truth = _subset(source_tree(corpus / "rootfs"), spec)
            files = [f for f in files if f.path not in spec.get("ignore", ())]  # e.g. ext4's lost+found
        n, meta, content = _compare(files, d / "fp", truth, owners)
        res.update(entries=n, modes=meta == 0, meta_diffs=meta,
                   bytes=None if row.truth == "listing" else content == 0, content_diffs=content,
                   truth={"ref": "reference extractor", "source": "source tree",
                          "listing": "unsquashfs -lln listing"}[row.truth])
        shutil.rmtree(d / "fp", ignore_errors=True)
    fp = best(lambda: firmpass_run(img), repeat)["seconds"]
    res["fp_MBps"] = res["MB"] / fp
    if row.ref:
        nat = best(lambda: native_run(row.ref, img), repeat)[0]
        res["ref_MBps"] = res["MB"] / nat
        res["ratio"] = fp / nat
        cmd = row.ref.split("&&")[-1].strip() if row.ref.startswith("mkdir") else row.ref  # the tool, not its mkdir
        res["ref"] = re.split(r"[ /]", cmd.split(" ", 1)[0])[-1] if not cmd.startswith("cd") else "cpio"
    return res


def markdown(rows: list[dict]) -> str:
    lines = ["| format | opens | true modes/owners | bytes identical | firmpass MB/s | reference MB/s (tool) | ratio |",
             "|---|---|---|---|---|---|---|"]
    yn = {True: "yes", False: "**no**", None: "n/a"}
    for r in rows:
        modes = yn[r["modes"]] + ("" if r["modes"] else f" ({r['meta_diffs']} of {r['entries']})")
        byt = "n/a: no tool decodes it" if r["bytes"] is None else yn[r["bytes"]] + (
            "" if r["bytes"] else f" ({r['content_diffs']} files)")
        ref = f"{r['ref_MBps']:.3g} ({r['ref']})" if "ref_MBps" in r else "none"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "-"
        if "ratio" in r and r["MB"] < STARTUP_MB:
            ratio = f"start-up only ({r['image']}, {r['MB'] * 1e3:.3g} KB: {ratio})"
        lines.append(f"| {r['format']} | {yn[r['opens']]} | {modes} vs {r['truth']} | {byt} | {r['fp_MBps']:.3g} | "
                     f"{ref} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    repeat = 1
    if "--repeat" in argv:
        i = argv.index("--repeat")
        repeat = int(argv[i + 1])
        del argv[i: i + 2]
    md = "--markdown" in argv
    argv = [a for a in argv if a != "--markdown"]
    from tests.corpus import build

    corpus = build()
    rows = []
    for row in ROWS:
        if argv and not any(a.lower() in row.name.lower() for a in argv):
            continue
        r = measure(row, corpus, repeat)
        if r is None:
            print(f"{row.name}: image absent, skipped", flush=True)
            continue
        rows.append(r)
        if not md:  # --markdown: the table only (docs/formats.md)
            print(json.dumps(r), flush=True)
    print()
    print(markdown(rows))
    slow = [r["format"] for r in rows if r.get("ratio", 0) > 2 and r["MB"] >= STARTUP_MB]
    print(f"\nwithin 2x the native extractor: {'all' if not slow else 'NOT ' + ', '.join(slow)}")
    tiny = [f"{r['format']} ({r['ratio']:.2f})" for r in rows if r.get("ratio", 0) > 2 and r["MB"] < STARTUP_MB]
    if tiny:
        print(f"over 2x on start-up only (images under {STARTUP_MB:g} MB): {', '.join(tiny)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
