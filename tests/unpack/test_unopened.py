"""An image firmpass cannot open is still scanned (issue 11, item 7), and input that is not firmware at
all is refused with a line that says what it is.

Material: tests/corpus/build-rtos.sh - encrypted.bin (the corpus's real squashfs encrypted with
AES-256-CBC behind a plain vendor header), vendor-download.zip (three .img files no handler opens: two
real Wi-Fi firmware blobs from Debian and encrypted.bin).  Pictures are made by Pillow (WeasyPrint's
dependency), a real PNG / JPEG encoder.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmpass.errors import UnusableInput
from firmpass.unpack import blob
from tests.unpack.conftest import unpack

ROOT = Path(__file__).resolve().parents[2]


def cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    return subprocess.run([sys.executable, "-m", "firmpass.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _one_line(r) -> str:
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize("fmt,word", [("PNG", "PNG picture"), ("JPEG", "JPEG picture")])
def test_picture_is_not_firmware(tmp_path, fmt, word):
    from PIL import Image

    f = tmp_path / f"cat.{fmt.lower()}"
    img = Image.new("RGB", (320, 240))
    img.putdata([((x * 7) % 256, (y * 5) % 256, (x * y) % 256) for y in range(240) for x in range(320)])
    img.save(f, fmt)
    line = _one_line(cli("scan", str(f), "-o", str(tmp_path / "out"), "--no-pdf"))
    assert "is not a firmware image" in line and word in line and "图片" in line


def test_text_and_tiny_files_are_not_firmware(tmp_path):
    t = tmp_path / "notes.txt"
    t.write_text("会议记录 meeting notes, not a firmware image\n" * 200, encoding="utf-8")
    line = _one_line(cli("scan", str(t), "-o", str(tmp_path / "o1"), "--no-pdf"))
    assert "plain text" in line and "纯文本" in line
    s = tmp_path / "tiny.bin"
    s.write_bytes(bytes(range(200)))
    line = _one_line(cli("scan", str(s), "-o", str(tmp_path / "o2"), "--no-pdf"))
    assert "only 200 bytes" in line and "200 字节" in line
    with pytest.raises(UnusableInput):
        unpack(t, tmp_path / "o3")


def test_intel_hex_is_firmware_not_text(tmp_path):
    """Firmware in text form (Intel HEX records) is not refused as plain text: it is an unopened image."""
    h = tmp_path / "fw.hex"
    rows = []
    for addr in range(0, 4096, 16):
        data = bytes((addr + i) * 37 % 256 for i in range(16))
        rec = bytes([16, addr >> 8, addr & 0xFF, 0]) + data
        rows.append(":" + rec.hex().upper() + f"{(-sum(rec)) & 0xFF:02X}")
    h.write_text("\n".join(rows + [":00000001FF"]) + "\n")
    assert blob.not_firmware(h) is None
    ctx = unpack(h, tmp_path / "out")
    assert ctx.result.image.opened is False and ctx.result.image.likely_cause == "unknown_format"


def test_encrypted_image_scan(corpus, tmp_path):
    """Exit 0, one bilingual warning naming the likely cause, the entropy per region in findings.json and
    as a plot in the report, hashes of the image, and no provision met on the strength of it."""
    img = corpus / "rtos" / "encrypted.bin"
    out = tmp_path / "out"
    r = cli("scan", str(img), "-o", str(out), "--no-pdf", "--profile", str(ROOT / "tests" / "fixtures" / "profile-full.yaml"))
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((out / "findings.json").read_text())
    im = data["image"]
    assert im["opened"] is False and im["likely_cause"] == "encrypted"
    assert im["sha256"] and im["sha512"] and im["size"] == img.stat().st_size
    ent = im["entropy"]
    assert 0 < len(ent["values"]) <= blob.MAX_REGIONS and ent["p10"] > 7.9 and ent["chi_square_median"] < 400
    assert ent["values"][0] < ent["values"][1]  # the plain vendor header lowers the first region
    warns = [w for w in data["warnings"] if w["code"] == "not_opened"]
    assert len(warns) == 1 and "encrypted" in warns[0]["message"]["en"] and "加密" in warns[0]["message"]["zh"]
    assert data["files"] == [] and data["components"] == []
    html = (out / "report.html").read_text()
    assert 'class="chart entropy"' in html and 'id="not-opened"' in html and "无法打开此镜像" in html
    # no verdict 'met' rests on the firmware: the checks had nothing to read
    a = json.loads((out / "assessment.json").read_text())
    met = [v for v in a["verdicts"] if v["verdict"] == "met"]
    assert not [v["ref"] for v in met if v["findings"] or "ran with no finding" in v["reason"]["en"]]
    ref = json.loads((out / "findings.json").read_text())["extra"].get("checks_run")
    assert ref is None or isinstance(ref, list)


def test_gzip_magic_inside_random_data_does_not_open_it(tmp_path):
    """Ciphertext holds 1f 8b 08 with a valid flag byte about once in 128 MB: the corpus's
    encrypted.bin (17 MB, rebuilt with a new squashfs time stamp on every corpus build) once had one,
    and the scan called the image opened through one corrupt gzip part.  A gzip header carved after
    other bytes opens only if its first bytes decode; a real gzip stream at the same place still opens."""
    import gzip
    import random

    noise = random.Random(18).randbytes(1 << 20)
    fake = noise[:300_000] + b"\x1f\x8b\x08\x00" + noise[300_004:]
    img = tmp_path / "fake.bin"
    img.write_bytes(fake)
    ctx = unpack(img, tmp_path / "out")
    assert ctx.result.image.opened is False and ctx.result.image.likely_cause == "encrypted"
    assert [n.format for n in ctx.result.image.container_chain] == ["data"]
    real = noise[:300_000] + gzip.compress(b"busybox\n" * 4000, mtime=0) + noise[300_000:]
    img.write_bytes(real)
    ctx = unpack(img, tmp_path / "out2")
    assert ctx.result.image.opened is True
    assert "gzip" in [n.format for n in ctx.result.image.container_chain]


def test_archive_of_unopened_images_warns(corpus, tmp_path):
    """A vendor download (zip) of three .img files nobody opens: one warning naming each with its likely
    cause, and their strings still scanned (the Wi-Fi firmware's RTOS is named)."""
    from firmpass.pipeline import scan

    ctx = scan(corpus / "rtos" / "vendor-download.zip", tmp_path / "out", stages=["unpack", "inventory", "identify"])
    truth = json.loads((corpus / "rtos" / "rtos.json").read_text())["vendor-download.zip"]
    w = [w for w in ctx.result.warnings if w.code == "parts_not_opened"]
    assert len(w) == 1 and "3 file(s)" in w[0].message.en and "无法打开" in w[0].message.zh
    assert "/FW/system.img (likely encrypted)" in w[0].message.en and "可能已加密" in w[0].message.zh
    parts = sorted(n.source_path for n in ctx.result.image.container_chain if n.meta.get("opened") is False)
    assert parts == truth["not_opened"]
    assert sorted((c.name, c.version) for c in ctx.result.components) == [tuple(x) for x in truth["rtos_all"]]
    assert ctx.result.image.opened is True  # the zip itself was opened


def test_entropy_causes_on_real_data(corpus, tmp_path):
    """The cause read from entropy, on real data: a gzip kernel is compressed, an ARM kernel image is
    structured, the encrypted squashfs is encrypted."""
    assert blob.likely_cause(blob.entropy_profile(corpus / "kernel.gz")) == "compressed"
    assert blob.likely_cause(blob.entropy_profile(corpus / "kernels" / "vmlinux-arm")) == "unknown_format"
    assert blob.likely_cause(blob.entropy_profile(corpus / "rtos" / "encrypted.bin")) == "encrypted"
