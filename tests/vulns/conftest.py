from pathlib import Path

import pytest

from firmpass.model import Component
from firmpass.vulns.importers import import_paths
from firmpass.vulns.store import Store

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "vulns"


@pytest.fixture(scope="session")
def fixdir() -> Path:
    return FIX


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Store:
    st = Store(tmp_path_factory.mktemp("db") / "vulns.db")
    import_paths(st, [FIX])
    return st


def comp(name, version, cpe=None, **props) -> Component:
    return Component(bom_ref=f"{name}@{version}", name=name, version=version, cpe=cpe, properties=props)
