"""Hostile input: path traversal, links pointing out, bombs, truncation, non-firmware; and the CLI's
one-line answer with exit code 2."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from firmpass.context import ScanOptions
from firmpass.errors import LimitExceeded, UnusableInput
from tests.unpack.conftest import unpack

ROOT = Path(__file__).resolve().parents[2]


def all_paths(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)


def _ti(name, typ=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.size = typ, link, mode, len(data) if typ == tarfile.REGTYPE else 0
    return ti, (data if typ == tarfile.REGTYPE else None)


from tests.clitool import cli  # noqa: E402


def test_tar_traversal_and_links_stay_inside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = tmp_path / "evil.tar"
    _tar(evil, [
        _ti("../../escape-dotdot", data=b"dotdot"),
        _ti(str(tmp_path / "escape-abs"), data=b"abs"),
        _ti("link", tarfile.SYMTYPE, link=str(outside)),
        _ti("link/through-symlink", data=b"through"),       # written through the symlink on a naive extractor
        _ti("hard", tarfile.LNKTYPE, link="../../../etc/passwd"),  # hard link to a file outside
        _ti("etc/ok.conf", data=b"fine", mode=0o4755),
    ])
    before = all_paths(tmp_path)
    out = tmp_path / "out"
    ctx = unpack(evil, out)
    # nothing appeared outside the output dir
    assert all_paths(tmp_path) - before <= {p for p in all_paths(tmp_path) if p == "out" or p.startswith("out/")}
    assert list(outside.iterdir()) == []
    files = {f.path: f for f in ctx.result.files}
    assert files["/escape-dotdot"].disk_path and (out / files["/escape-dotdot"].disk_path).read_bytes() == b"dotdot"
    assert files["/link"].type == "symlink" and files["/link"].link_target == str(outside)  # kept verbatim
    assert files["/etc/ok.conf"].mode == 0o4755
    assert files["/hard"].disk_path is None  # its target is not in the archive
    for f in files.values():
        if f.disk_path:
            real = (out / f.disk_path).resolve()
            assert str(real).startswith(str(out.resolve()) + os.sep)


def test_zip_traversal_stays_inside(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../zip-escape", b"x")
        zf.writestr("/abs-zip-escape", b"y")
        zf.writestr("ok/file.txt", b"z")
    before = all_paths(tmp_path)
    ctx = unpack(z, tmp_path / "out")
    new = all_paths(tmp_path) - before
    assert all(p == "out" or p.startswith("out/") for p in new), new
    assert {f.path for f in ctx.result.files} >= {"/zip-escape", "/abs-zip-escape", "/ok/file.txt"}


def test_gzip_bomb_stops_at_ratio_limit(tmp_path):
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (64 << 20), 9))  # 64 MiB of zeros in ~64 KiB
    with pytest.raises(LimitExceeded) as e:
        unpack(bomb, tmp_path / "out")
    assert "expands more than 250" in e.value.text.en and "--max-ratio" in e.value.text.en
    assert "安全上限" in e.value.text.zh
    # stopped after ~250 x the input, long before 64 MiB, and the bomb's partial output is dropped
    blobs = tmp_path / "out" / "unpacked" / "blobs"
    assert sum(p.stat().st_size for p in blobs.iterdir()) < 1 << 20 if blobs.exists() else True
    r = cli("unpack", str(bomb), "-o", str(tmp_path / "out2"))
    assert r.returncode == 2 and "safety limit" in r.stderr and "Traceback" not in r.stderr


def test_zip_bomb_stops_at_ratio_limit(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("zeros.bin", b"\0" * (64 << 20))
    r = cli("unpack", str(bomb), "-o", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "safety limit" in lines[0] and "--max-ratio" in lines[0]
    assert (tmp_path / "out" / "findings.json").exists()  # results so far are written first


def test_nested_bomb_is_a_warning_and_the_rest_unpacks(tmp_path):
    t = tmp_path / "mixed.tar"
    _tar(t, [_ti("bomb.gz", data=gzip.compress(b"\0" * (32 << 20), 9)), _ti("etc/hostname", data=b"acme\n")])
    ctx = unpack(t, tmp_path / "out")
    assert "/etc/hostname" in {f.path for f in ctx.result.files}
    w = [w for w in ctx.result.warnings if w.code == "limit"]
    assert w and "bomb.gz" in w[0].message.en and w[0].message.zh


def test_total_size_limit(corpus, tmp_path):
    opts = ScanOptions()
    opts.limits.max_total_bytes = 4 << 20
    ctx = unpack(corpus / "rootfs-gzip.sqfs", tmp_path, opts)
    assert any(w.code == "limit" and "--max-size" in w.message.en for w in ctx.result.warnings)
    assert ctx.result.image.container_chain[0].status == "partial"


def test_truncated_part_warns_and_rest_unpacks(corpus, tmp_path):
    good = (corpus / "rootfs-gzip.sqfs").read_bytes()
    bad = (corpus / "rootfs-xz.sqfs").read_bytes()
    img = tmp_path / "mixed.bin"
    img.write_bytes(b"HDRX" + b"\0" * 252 + good + bad[: len(bad) // 2])
    ctx = unpack(img, tmp_path / "out")
    nodes = {n.id: n for n in ctx.result.image.container_chain}
    assert nodes["0.1"].status == "ok" and nodes["0.2"].status != "ok"
    assert len([f for f in ctx.result.files if f.container == "0.1"]) == 637
    assert any("0.2" == w.part and "squashfs part 0.2" in w.message.en for w in ctx.result.warnings)


def test_truncated_squashfs_cli(corpus, tmp_path):
    img = tmp_path / "trunc.sqfs"
    data = (corpus / "rootfs-gzip.sqfs").read_bytes()
    img.write_bytes(data[: len(data) * 3 // 5])
    r = cli("unpack", str(img), "-o", str(tmp_path / "out"))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "corrupt or truncated" in lines[0] and "已损坏或被截断" in lines[0]


def test_not_firmware_cli(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("meeting notes, not a firmware image\n" * 200)
    r = cli("unpack", str(f), "-o", str(tmp_path / "out"))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "not a firmware image" in lines[0], r.stderr
    with pytest.raises(UnusableInput):
        unpack(f, tmp_path / "out3")


def test_random_bytes_are_an_unopened_image(tmp_path):
    """Random bytes are what an encrypted image looks like: no signature survives its header check, and
    the file is scanned as an unopened image (exit 0 from a scan), not refused as non-firmware."""
    import random

    f = tmp_path / "noise.bin"
    f.write_bytes(random.Random(7).randbytes(4 << 20))
    ctx = unpack(f, tmp_path / "out")
    img = ctx.result.image
    assert [n.format for n in img.container_chain] == ["data"] and not ctx.result.files
    assert img.opened is False and img.likely_cause == "encrypted"
    assert [w.code for w in ctx.result.warnings] == ["not_opened"]


def test_hard_link_inside_archive(tmp_path):
    t = tmp_path / "links.tar"
    _tar(t, [_ti("bin/real", data=b"ELFish", mode=0o755), _ti("bin/alias", tarfile.LNKTYPE, link="bin/real")])
    ctx = unpack(t, tmp_path / "out")
    files = {f.path: f for f in ctx.result.files}
    alias = files["/bin/alias"]
    assert alias.type == "hardlink" and alias.link_target == "/bin/real"
    assert (tmp_path / "out" / alias.disk_path).read_bytes() == b"ELFish"


def test_directory_input_cli(tmp_path):
    r = cli("scan", str(tmp_path), "-o", str(tmp_path / "out"))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "not a regular file" in lines[0], r.stderr


def test_depth_and_file_count_limits(corpus, tmp_path):
    opts = ScanOptions()
    opts.limits.max_depth = 1
    ctx = unpack(corpus / "uImage-kernel", tmp_path / "a", opts)
    nodes = {n.id: n for n in ctx.result.image.container_chain}
    assert nodes["0.1"].format == "gzip" and nodes["0.1.1"].status == "skipped"
    assert any(w.code == "depth" and "--max-depth" in w.message.en for w in ctx.result.warnings)
    opts = ScanOptions()
    opts.limits.max_files = 5
    ctx = unpack(corpus / "etc.tar", tmp_path / "b", opts)
    assert len(ctx.result.files) <= 5
    assert any(w.code == "limit" and "--max-files" in w.message.en for w in ctx.result.warnings)


def test_absurd_names_skip_one_entry_not_the_archive(tmp_path):
    t = tmp_path / "names.tar"
    deep = "/".join(["d" * 200] * 30) + "/deep.txt"  # longer than PATH_MAX on disk
    _tar(t, [_ti(deep, data=b"deep"), _ti("x" * 300, data=b"long"), _ti("nul\0name", data=b"nul"),
             _ti("etc/ok", data=b"ok")])
    ctx = unpack(t, tmp_path / "out")
    files = {f.path: f for f in ctx.result.files}
    assert (tmp_path / "out" / files["/etc/ok"].disk_path).read_bytes() == b"ok"
    assert "/" + deep in files  # recorded with its metadata even when it cannot be written


def test_max_file_size_option_bounds_one_stream(tmp_path):
    """--max-file-size is the per-file / per-stream bound (default 1 GiB), separate from --max-size."""
    t = tmp_path / "two.tar"
    _tar(t, [_ti("big.bin", data=os.urandom(3 << 20)), _ti("etc/hostname", data=b"acme\n")])
    r = cli("unpack", str(t), "-o", str(tmp_path / "out"), "--max-file-size", "1M")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert "/etc/hostname" in {f["path"] for f in data["files"]}
    assert any("big.bin" in w["message"]["en"] for w in data["warnings"]), data["warnings"]
    r = cli("unpack", str(t), "-o", str(tmp_path / "out2"))
    # without the limit big.bin is read whole; random bytes named .bin at the top of an archive are an
    # image nobody opens, and that is the one warning
    warns = json.loads((tmp_path / "out2" / "findings.json").read_text())["warnings"]
    assert r.returncode == 0 and [w["code"] for w in warns] == ["parts_not_opened"] and "/big.bin" in warns[0]["message"]["en"]


def test_archive_larger_than_one_file_limit_still_unpacks(tmp_path):
    """The per-file limit bounds each member, not the archive: three 700 KiB members pass a 1 MiB limit."""
    t = tmp_path / "three.tar"
    blobs = {f"bin/part{i}": os.urandom(700 << 10) for i in range(3)}
    _tar(t, [_ti(name, data=data) for name, data in blobs.items()])
    r = cli("unpack", str(t), "-o", str(tmp_path / "out"), "--max-file-size", "1M")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "out" / "findings.json").read_text())
    got = {f["path"]: f["sha256"] for f in data["files"] if f["type"] == "file"}
    import hashlib
    assert got == {"/" + n: hashlib.sha256(d).hexdigest() for n, d in blobs.items()}


def test_gzip_with_bad_checksum_keeps_what_decompressed(corpus, tmp_path):
    """A real tar.gz whose CRC-32 trailer is damaged: the stream's content is all there, so the tar inside
    is unpacked (byte-identical to the intact archive) and one warning names the damaged stream."""
    data = bytearray((corpus / "etc.tar.gz").read_bytes())
    data[-8] ^= 0xFF  # CRC-32 of the uncompressed data
    bad = tmp_path / "etc-badcrc.tar.gz"
    bad.write_bytes(bytes(data))
    good = unpack(corpus / "etc.tar.gz", tmp_path / "good")
    ctx = unpack(bad, tmp_path / "bad")
    files = lambda c: {f.path: f.sha256 for f in c.result.files if f.type == "file"}  # noqa: E731
    assert files(ctx) == files(good) and len(files(ctx)) > 5
    w = [w for w in ctx.result.warnings if w.code == "corrupt_stream"]
    assert len(w) == 1 and "gzip" in w[0].message.en and "压缩流已损坏" in w[0].message.zh
    assert ctx.result.image.container_chain[0].status == "partial"


def test_truncated_android_sparse_keeps_the_chunks_present(corpus, tmp_path):
    """The corpus's real ext4 as an Android sparse image (img2simg), cut short: the chunks present are
    expanded, the ext4 inside is read as far as it goes, and one warning says how much was there."""
    data = (corpus / "rootfs.ext4.simg").read_bytes()
    cut = tmp_path / "cut.simg"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    ctx = unpack(cut, tmp_path / "out")
    w = [w for w in ctx.result.warnings if w.code == "truncated_sparse"]
    assert len(w) == 1 and "被截断" in w[0].message.zh
    assert ctx.result.image.container_chain[0].status == "partial"
    assert any(n.format.startswith("ext") for n in ctx.result.image.container_chain)
    assert ctx.result.files  # what the chunks present hold is listed
    # through the CLI: only our own lines on stderr (the ext reader's log records about the damage are not printed)
    r = cli("unpack", str(cut), "-o", str(tmp_path / "out2"))
    assert r.returncode == 0, r.stderr
    assert all(l.startswith("warning: ") for l in r.stderr.splitlines() if l.strip()), r.stderr[:2000]


def test_truncated_trx_opens_the_partitions_present(corpus, tmp_path):
    """An incomplete download of the corpus's TRX router image: the kernel partition is whole and is
    still found (with its version), the cut rootfs is a warning, the TRX says it is truncated."""
    data = (corpus / "router.trx").read_bytes()
    cut = tmp_path / "cut.trx"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    ctx = unpack(cut, tmp_path / "out")
    chain = ctx.result.image.container_chain
    assert chain[0].format == "trx" and chain[0].status == "partial" and chain[0].meta["declared_length"] == len(data)
    assert any(n.format == "linux-kernel" and n.status == "ok" for n in chain)
    assert any(w.code == "truncated_container" and "被截断" in w.message.zh for w in ctx.result.warnings)
    r = cli("unpack", str(tmp_path / "tiny.trx"), "-o", str(tmp_path / "o2")) if (tmp_path / "tiny.trx").write_bytes(data[:30]) else None
    assert r.returncode == 2  # too little of a header to go on: unusable


def test_truncated_multi_uimage_opens_the_parts_present(corpus, tmp_path):
    data = (corpus / "uImage-multi").read_bytes()
    cut = tmp_path / "cut.uimg"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    ctx = unpack(cut, tmp_path / "out")
    chain = ctx.result.image.container_chain
    assert chain[0].format == "uimage" and chain[0].status == "partial"
    assert chain[0].meta["declared_data_size"] == len(data) - 64
    assert any(n.format == "linux-kernel" for n in chain)  # the first part (the kernel) is whole
    assert any(w.code == "truncated_container" for w in ctx.result.warnings)
