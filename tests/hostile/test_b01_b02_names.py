"""B1/B2: a file name that is not UTF-8 (GBK, Latin-1, invalid bytes) in squashfs, ext4, jffs2, tar,
cpio or zip never loses the scan: findings.json and the reports are written and valid, the raw bytes
are kept (path_bytes), the path is readable text, and checks still see the files (a private key
under a GBK name, an empty root password beside them).  Nested, the inner rootfs is not hidden."""
import json
import shutil

import pytest

from firmpass.context import ScanOptions
from firmpass.pipeline import scan
from tests.hostile.names import GBK, INVALID, KEY_NAME, LATIN1, build, nested_tar

TOOLS = {"squashfs": "mksquashfs", "ext4": "mke2fs", "jffs2": "mkfs.jffs2", "cpio": "cpio", "zip": "zip"}


def _check(out, prefix=""):
    raw = (out / "findings.json").read_bytes()
    d = json.loads(raw.decode("utf-8"))  # strict UTF-8: no lone surrogates
    by_bytes = {bytes.fromhex(f["path_bytes"]): f for f in d["files"] if f.get("path_bytes")}
    for n in (GBK, LATIN1, INVALID):
        f = by_bytes[prefix.encode() + b"/etc/" + n]
        assert f["type"] == "file" and f["size"] == len(b"password=admin\n")
        assert "\\x" in f["path"] and f["path"].isprintable()  # the undecodable bytes shown as \xNN
    key = by_bytes[prefix.encode() + b"/etc/ssl/private/" + KEY_NAME]
    checks = {f["check"]: f for f in d["findings"]}
    assert "CRED-001" in checks and "SVC-001" in checks  # the empty root password and telnetd
    assert any(e["path"] == key["path"] for e in checks["KEY-001"]["evidence"])  # checks saw the GBK-named key
    for name in ("sbom.cdx.json", "sbom.spdx.json", "assessment.json"):
        json.loads((out / name).read_bytes().decode("utf-8"))
    assert (out / "report.html").read_bytes().decode("utf-8")


@pytest.mark.parametrize("fmt", ["squashfs", "ext4", "jffs2", "tar", "cpio", "zip"])
def test_non_utf8_names_every_format(tmp_path, fmt):
    if fmt in TOOLS and not shutil.which(TOOLS[fmt]):
        pytest.skip(f"{TOOLS[fmt]} not installed")
    img = build(fmt, tmp_path)
    scan(img, tmp_path / "out", ScanOptions(pdf=False, progress=False))
    _check(tmp_path / "out")


def test_nested_archive_with_non_utf8_names_is_not_hidden(tmp_path):
    img = nested_tar(tmp_path)
    ctx = scan(img, tmp_path / "out", ScanOptions(pdf=False, progress=False))
    assert [n.format for n in ctx.result.image.container_chain] == ["tar", "tar"]
    assert all(n.status == "ok" for n in ctx.result.image.container_chain)
    _check(tmp_path / "out")
