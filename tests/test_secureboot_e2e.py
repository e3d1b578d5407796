"""Secure boot through the whole pipeline: a vendor image carrying U-Boot with its control DTB and a
signed FIT is 'verified'; the same image with one kernel byte flipped is 'signature_invalid', and
the secure-boot finding cites the FIT and the reason."""
from __future__ import annotations

import json

import pytest

from firmpass import pipeline
from firmpass.context import ScanOptions


@pytest.mark.parametrize("name", ["firmware-signed.bin", "firmware-signed-tampered.bin"])
def test_signed_vendor_image(corpus, tmp_path, name):
    expected = json.loads((corpus / "signedfw.json").read_text())[name]["secure_boot"]
    ctx = pipeline.scan(corpus / name, tmp_path / "out", ScanOptions(), stages=["unpack", "inventory", "checks"])
    sb = ctx.result.extra["secure_boot"]
    assert sb["verdict"] == expected
    assert sb["control_dtb_keys"] == ["dev"]  # the public key came from the image's own control DTB
    fits = [i for i in sb["images"] if i["kind"] == "fit"]
    assert len(fits) == 1 and fits[0]["verdict"] == expected
    boot_findings = [f for f in ctx.result.findings if f.check.startswith("BOOT-")]
    if expected == "verified":
        assert not [f for f in boot_findings if f.severity in ("critical", "high")]
    else:
        bad = [f for f in boot_findings if f.severity in ("critical", "high")]
        assert bad, [f.check for f in boot_findings]
        text = json.dumps([f.model_dump() for f in bad])
        assert "kernel-1" in text
