"""B11: a blob never replaces another part's bytes: a payload renamed after its format, when a blob
of that name already exists, takes a free name; every node's blob is its own file."""
import gzip
import hashlib
import io
import tarfile

from firmpass.context import ScanOptions
from firmpass.model import ContainerNode
from firmpass.pipeline import new_context, scan
from firmpass.unpack.engine import BLOBS, Unpacker, _free_name


def test_rename_never_overwrites(tmp_path):
    img = tmp_path / "x.bin"
    img.write_bytes(b"x" * 64)
    ctx = new_context(img, tmp_path / "out", ScanOptions())
    try:
        u = Unpacker(ctx)
        d = ctx.out / BLOBS
        d.mkdir(parents=True)
        other = d / "0.1.gzip.bin"  # a part already named so (e.g. a carved gzip)
        other.write_bytes(b"the other part")
        mine = d / "0.1.bin"
        mine.write_bytes(b"this payload")
        node = ContainerNode(id="0.1", format="gzip", blob=f"{BLOBS}/0.1.bin")
        new = u._rename_blob(node, mine)
        assert other.read_bytes() == b"the other part" and new.read_bytes() == b"this payload"
        assert new != other and node.blob.endswith(new.name)
        assert _free_name(d, "0.1.gzip").name == "0.1.gzip.2.bin"
    finally:
        ctx.scratch.pop("outlock").release()


def test_every_blob_is_its_own(tmp_path):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as t:
        data = b"root::0:0::/root:/bin/sh\n"
        ti = tarfile.TarInfo("etc/passwd")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    gz = gzip.compress(inner.getvalue())
    img = tmp_path / "fw.bin"
    img.write_bytes(b"\0" * 512 + gz + b"\0" * 512 + gz)  # two gzip parts carved from one blob
    ctx = scan(img, tmp_path / "out", ScanOptions(pdf=False, progress=False), stages=["unpack"])
    blobs = [n.blob for n in ctx.result.image.container_chain if n.blob and n.id != "0"]
    assert len(blobs) == len(set(blobs)) >= 2
    for n in ctx.result.image.container_chain:
        if n.id != "0" and n.blob and n.format == "gzip":
            assert hashlib.sha256((ctx.out / n.blob).read_bytes()).digest() == hashlib.sha256(gz).digest()
