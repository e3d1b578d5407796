from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmpass.context import ScanOptions
from firmpass.pipeline import new_context, run_stages
from tests.unpack.compare import source_tree


def unpack(image: Path, out: Path, options: ScanOptions | None = None, inventory: bool = False):
    ctx = new_context(image, out, options)
    run_stages(ctx, ["unpack", "inventory"] if inventory else ["unpack"])
    return ctx


@pytest.fixture(scope="session")
def src_tree(corpus) -> dict:
    return source_tree(corpus / "rootfs")


@pytest.fixture(scope="session")
def formats(corpus) -> dict:
    return json.loads((corpus / "formats.json").read_text())


@pytest.fixture(scope="module")
def firmware(corpus, tmp_path_factory):
    """firmware.bin unpacked once (unpack + inventory)."""
    return unpack(corpus / "firmware.bin", tmp_path_factory.mktemp("fw"), inventory=True)
