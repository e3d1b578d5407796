"""The operating system of RTOS firmware blobs, named from their strings (issue 11, item 5).

Real blobs from Debian's non-free-firmware packages (tests/corpus/build-rtos.sh): MediaTek and Realtek
Wi-Fi firmware on FreeRTOS, Broadcom and Marvell Wi-Fi firmware on ThreadX; vendor-rtos.bin puts two of
them, gzip- and xz-compressed, behind a vendor header (the streams are carved, and their decompressed
parts are what the strings come from).  Zephyr, VxWorks, eCos, Nucleus and µC/OS have no blob in
Debian: their rules are checked against the crafted string samples in rules/rtos.yaml (marked crafted)
and, for every rule, against the literals each RTOS's own public source puts into an image
(tests/fixtures/identify/rtos_source_strings.json names the file of each): ThreadX's _tx_version_id of
the Express Logic, Microsoft and Eclipse eras, Nucleus's RLD_Release_String, the µC/OS idle task names,
Zephyr's 2.x and 3.x banners, VxWorks's vxWorksVersion, RedBoot's banners.
"""
from __future__ import annotations

import json

import pytest

from firmpass.identify import rtos
from firmpass.pipeline import scan

REAL = ["mt7915_wa.bin", "brcmfmac4366c-pcie.bin", "sd8887_uapsta.bin", "rtw8852a_fw.bin"]


def _truth(corpus) -> dict:
    return json.loads((corpus / "rtos" / "rtos.json").read_text())


@pytest.mark.parametrize("name", REAL)
def test_real_blob_names_its_rtos(corpus, tmp_path, name):
    t = _truth(corpus)[name]
    ctx = scan(corpus / "rtos" / name, tmp_path / "out", stages=["unpack", "inventory", "identify"])
    assert ctx.result.image.opened is False  # a bare chip firmware: no container, scanned as a blob
    os_ = [c for c in ctx.result.components if c.type == "operating-system"]
    assert [(c.name, c.version) for c in os_] == [(t["rtos"], t["version"])]
    ev = os_[0].evidence[0]
    assert ev.method == "rtos-string" and ev.path == f"/{name}" and ev.container == "0" and t["rtos"] in ev.match
    assert os_[0].hashes["sha256"] == ctx.result.image.sha256
    assert ctx.result.extra["rtos"][0]["evidence"] == ev.match
    if t["rtos"] == "FreeRTOS" and t["version"]:
        assert os_[0].cpe == f"cpe:2.3:o:amazon:freertos:{t['version']}:*:*:*:*:*:*:*"


def test_compressed_parts_of_a_monolithic_image_are_scanned(corpus, tmp_path):
    ctx = scan(corpus / "rtos" / "vendor-rtos.bin", tmp_path / "out", stages=["unpack", "inventory", "identify"])
    chain = {n.id: n for n in ctx.result.image.container_chain}
    assert chain["0"].format == "vendor-header" and {chain["0.1"].format, chain["0.2"].format} == {"gzip", "xz"}
    got = sorted((c.name, c.version) for c in ctx.result.components if c.type == "operating-system")
    assert got == [tuple(x) for x in _truth(corpus)["vendor-rtos.bin"]["rtos_all"]]
    for c in ctx.result.components:  # the strings came from the decompressed parts, not the compressed bytes
        assert chain[c.evidence[0].container].format == "data" and chain[c.evidence[0].container].parent in ("0.1", "0.2")


def test_crafted_samples_of_rules_without_a_real_blob():
    """CRAFTED: strings written from each RTOS's documented banner / task names, for the rules Debian has
    no blob of.  They prove the patterns, not the coverage of real firmware."""
    for r in rtos.rules():
        s = r.get("sample")
        if not isinstance(s, list):
            continue
        hits = rtos.detect(s[0])
        assert [h.id for h in hits] == [r["id"]], (r["id"], hits)
        assert hits[0].version == s[1]


def test_no_rtos_in_linux_binaries(corpus):
    """Precision: the real Linux kernel image and userland of the corpus name no RTOS."""
    for p in [corpus / "kernels" / "vmlinux-arm", corpus / "rootfs" / "bin" / "busybox",
              corpus / "rootfs" / "usr" / "lib" / "x86_64-linux-gnu" / "libcrypto.so.3"]:
        assert rtos.detect(rtos.strings(p.read_bytes())) == [], p


def _rodata(*strings: str) -> bytes:
    """A blob as a compiler lays out .rodata: NUL-terminated strings between code-like bytes."""
    code = bytes(range(0x80, 0x100)) * 2
    return code + b"".join(s.encode("utf-8") + b"\0" + code[:7] for s in strings) + code


def test_strings_from_real_rtos_source():
    """Each RTOS's own version/banner/task-name literal, taken from its public source (the file is named
    in tests/fixtures/identify/rtos_source_strings.json), inside a blob of non-text bytes, names that
    RTOS and only it, with the version the literal carries."""
    from pathlib import Path
    fx = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "identify" / "rtos_source_strings.json")
                    .read_text(encoding="utf-8"))
    seen = set()
    for s in fx["strings"]:
        hits = rtos.detect(rtos.strings(_rodata(*s["string"].split("\n"))))
        assert [(h.id, h.version) for h in hits] == [(s["id"], s["version"])], (s["source"], hits)
        if "name" in s:
            assert hits[0].name == s["name"]
        seen.add(s["id"])
    assert seen == {r["id"] for r in rtos.rules()}  # every rule has a string from real source
