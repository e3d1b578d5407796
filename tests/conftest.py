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
