from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Directory of corpus images (built from Debian binaries on first use, then cached)."""
    from tests.corpus import build

    return build()


@pytest.fixture(scope="session")
def ground_truth(corpus) -> dict:
    import json

    return json.loads((corpus / "ground_truth.json").read_text())


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


CORPUS_FIXTURES = {"corpus", "ground_truth"}


def pytest_collection_modifyitems(config, items):
    """Every test that uses the corpus (directly or through another fixture) carries the `corpus`
    marker, so `pytest -m "not corpus"` runs the suite without building it and `-m corpus` selects
    the slow part; a marker cannot be forgotten on a new test."""
    for item in items:
        if CORPUS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.corpus)
