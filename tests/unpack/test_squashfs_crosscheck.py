"""firmpass reads every squashfs with its own reader (firmpass.formats.squashfs_legacy); on standard 4.0
images dissect.squashfs, an independent implementation, must see the same tree: every name, type, mode,
owner, size, link target and the bytes of every regular file.  Run on the corpus's real images, one per
compressor, so the two readers cannot share one misunderstanding of the format."""
from __future__ import annotations

import hashlib
import stat

import pytest

from tests.unpack.conftest import unpack

pytestmark = pytest.mark.corpus


def _zstd_for_dissect(monkeypatch) -> None:
    """dissect.squashfs decodes zstd through backports.zstd, which firmpass does not install; give it the
    zstandard binding (a codec only: the format is still parsed by dissect)."""
    from dissect.squashfs import compression as c

    class Zstd(c.Compression):
        module = "zstandard"

        def decompress(self, data, expected):
            return self._module.ZstdDecompressor().decompress(data, max_output_size=max(expected, 1))

    monkeypatch.setattr(c, "NativeZSTD", Zstd)


def _dissect_tree(img) -> dict[str, tuple]:
    from dissect.squashfs import SquashFS

    out: dict[str, tuple] = {}
    with open(img, "rb") as fh:
        fs = SquashFS(fh)
        todo = [("", fs.get("/"))]
        while todo:
            prefix, d = todo.pop()
            for c in d.iterdir():
                path = f"{prefix}/{c.name}"
                digest = link = None
                if c.is_dir():
                    todo.append((path, c))
                elif c.is_symlink():
                    link = c.link
                elif c.is_file():
                    h = hashlib.sha256()
                    stream = c.open()
                    while chunk := stream.read(1 << 20):
                        h.update(chunk)
                    digest = h.hexdigest()
                size = c.size if c.is_file() else 0
                out[path] = (stat.S_IFMT(c.mode), c.mode & 0o7777, c.uid, c.gid, size, link, digest)
    return out


@pytest.mark.parametrize("comp", ["gzip", "xz", "lzo", "lz4", "zstd"])
def test_own_reader_equals_dissect_squashfs(comp, corpus, tmp_path, monkeypatch):
    img = corpus / f"rootfs-{comp}.sqfs"
    if not img.exists():
        pytest.skip(f"{img.name} is not in this corpus build")
    ctx = unpack(img, tmp_path / "out")
    [node] = [n for n in ctx.result.image.container_chain if n.format == "squashfs"]
    assert node.status == "ok" and node.meta["compression"] == comp
    kinds = {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "symlink": stat.S_IFLNK, "chardev": stat.S_IFCHR,
             "blockdev": stat.S_IFBLK, "fifo": stat.S_IFIFO, "socket": stat.S_IFSOCK}
    ours = {}
    for f in ctx.result.files:
        digest = None
        if f.type == "file":
            digest = hashlib.sha256((tmp_path / "out" / f.disk_path).read_bytes()).hexdigest()
            assert digest == f.sha256 or f.sha256 is None
        ours[f.path] = (kinds[f.type], f.mode, f.uid, f.gid, f.size if f.type == "file" else 0, f.link_target, digest)
    _zstd_for_dissect(monkeypatch)
    theirs = _dissect_tree(img)
    assert len(theirs) > 600
    assert ours == theirs
