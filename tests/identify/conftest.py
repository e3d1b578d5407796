from __future__ import annotations

from pathlib import Path

import pytest

from tests.treectx import context_from_tree


@pytest.fixture(scope="session")
def binary_only(corpus, tmp_path_factory):
    """identify over the corpus rootfs tree, binary evidence only (no package database)."""
    from firmpass.identify import identify

    ctx = context_from_tree(Path(corpus / "rootfs").resolve(), tmp_path_factory.mktemp("id"))
    comps = identify(ctx, use_package_db=False)
    return ctx, comps


@pytest.fixture(scope="session")
def truth(corpus):
    from tests.identify.truth import packages

    return packages(Path(corpus))
