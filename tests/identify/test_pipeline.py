"""Through the real pipeline (unpack + inventory): firmware.bin holds the rootfs three times (squashfs,
jffs2, the FIT ramdisk) and the kernel three times (uImage, its gzip payload, the FIT)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.identify.truth import score

unpack = pytest.importorskip("firmpass.unpack")


def test_firmware_bin_recall_precision_merge_and_kernel(corpus, tmp_path, truth):
    from firmpass.pipeline import scan

    ctx = scan(Path(corpus) / "firmware.bin", tmp_path / "out", stages=["unpack", "inventory", "identify", "sbom"])
    comps = ctx.result.components
    s = score(comps, truth)
    assert s["recall"] >= 0.95 and s["precision"] >= 0.98, (s["missed"], s["wrong"])
    by = {c.name: c for c in comps}
    assert len([c for c in comps if c.name == "busybox"]) == 1
    assert len({e.container for e in by["busybox"].evidence}) == 3  # one component, three filesystems
    lx = by["linux"]
    assert lx.version == ctx.result.extra["kernel"]["version"] and len({e.container for e in lx.evidence}) >= 2
    assert (ctx.out / "sbom.cdx.json").is_file() and (ctx.out / "sbom.spdx.json").is_file()
    from firmpass.sbom.check import check_sbom

    assert check_sbom(ctx.out / "sbom.cdx.json")["missing"] == []
