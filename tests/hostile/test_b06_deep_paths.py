"""B6: a tar entry with 1500 path components: no RecursionError, the archive is kept (its other
files are checked), and the next scan into the same OUT removes the deep tree without recursion."""
import io
import tarfile

from firmpass.context import ScanOptions
from firmpass.outdir import remove_tree
from firmpass.pipeline import scan


def _deep_tar(path, depth=1500):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for name, data in (("/".join(["d"] * depth) + "/f", b"deep"), ("etc/passwd", b"root::0:0::/root:/bin/sh\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return path


def test_deep_tar_is_kept_and_rescanned(tmp_path):
    img = _deep_tar(tmp_path / "deep.tar")
    out = tmp_path / "out"
    try:
        for _ in range(2):  # the second run removes the first run's 1500-deep tree
            ctx = scan(img, out, ScanOptions(pdf=False, progress=False), stages=["unpack", "inventory", "checks"])
            assert [(n.format, n.status) for n in ctx.result.image.container_chain] == [("tar", "ok")]
            paths = {f.path for f in ctx.result.files}
            assert "/etc/passwd" in paths and any(p.count("/") == 1501 for p in paths)
            assert "CRED-001" in {f.check for f in ctx.result.findings}
    finally:
        remove_tree(out)  # pytest's own cleanup of old tmp dirs is recursive


def test_remove_tree_deeper_than_the_recursion_limit(tmp_path):
    import os
    import sys

    d = tmp_path / "t"
    p = str(d)
    os.mkdir(p)
    for _ in range(sys.getrecursionlimit() + 200):
        p = os.path.join(p, "d")
        os.mkdir(p)
    os.symlink("/", os.path.join(p, "root-link"))  # unlinked, never entered
    remove_tree(d)
    assert not d.exists() and os.path.isdir("/etc")
