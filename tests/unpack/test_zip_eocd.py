"""A zip member whose bytes happen to hold the end-of-central-directory signature (it occurs by chance
in compressed or encrypted data: a CI build of the corpus's encrypted image did) must not cut the
archive there: the zip is one part with every member."""
from __future__ import annotations

import io
import zipfile

from firmpass.pipeline import scan


def test_eocd_signature_inside_a_member_does_not_split_the_zip(tmp_path):
    fake_eocd = b"PK\x05\x06" + bytes(8) + (1234).to_bytes(4, "little") + (99).to_bytes(4, "little") + bytes(2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("FW/system.img", b"A" * 300 + fake_eocd + b"B" * 300)
        z.writestr("FW/readme.txt", b"vendor download\n")
    img = tmp_path / "download.zip"
    img.write_bytes(buf.getvalue())
    ctx = scan(img, tmp_path / "out", stages=["unpack"])
    zips = [n for n in ctx.result.image.container_chain if n.format == "zip"]
    assert len(zips) == 1 and zips[0].status == "ok"
    assert sorted(f.path for f in ctx.result.files if f.type == "file") == ["/FW/readme.txt", "/FW/system.img"]
    assert not [w for w in ctx.result.warnings if w.code == "corrupt_part"]
