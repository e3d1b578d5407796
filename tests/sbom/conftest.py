from __future__ import annotations

from pathlib import Path

import pytest

from tests.treectx import context_from_tree


@pytest.fixture(scope="session")
def scanned(corpus, tmp_path_factory):
    """identify + sbom stages over the corpus rootfs tree (binary evidence only, as most devices have)."""
    from firmpass import identify, sbom

    from firmpass.pipeline import hash_file

    ctx = context_from_tree(Path(corpus / "rootfs").resolve(), tmp_path_factory.mktemp("sbom"))
    # the tree is what rootfs-xz.sqfs holds: give the image its real name and hashes
    img = Path(corpus) / "rootfs-xz.sqfs"
    ctx.result.image.name = img.name
    ctx.result.image.sha256, ctx.result.image.sha512, ctx.result.image.size = hash_file(img)
    identify.run(ctx)
    sbom.run(ctx)
    return ctx
