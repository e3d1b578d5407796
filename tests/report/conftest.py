from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from firmpass.model import ScanResult

FX = Path(__file__).parent.parent / "fixtures" / "report"


@pytest.fixture
def result() -> ScanResult:
    return ScanResult.model_validate_json((FX / "findings.json").read_text(encoding="utf-8"))


@pytest.fixture
def assessment() -> dict:
    return json.loads((FX / "assessment.json").read_text(encoding="utf-8"))


@pytest.fixture
def profile() -> dict:
    return yaml.safe_load((FX / "profile.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """One full run (report.html, report.pdf, evidence) on the fixtures, shared by the read-only tests."""
    from firmpass.evidence import write_evidence
    from firmpass.report import write_report

    out = tmp_path_factory.mktemp("rendered")
    r = ScanResult.model_validate_json((FX / "findings.json").read_text(encoding="utf-8"))
    a = json.loads((FX / "assessment.json").read_text(encoding="utf-8"))
    p = yaml.safe_load((FX / "profile.yaml").read_text(encoding="utf-8"))
    write_report(out, r, a, p, "both", pdf=True)
    write_evidence(out, r, a, p)
    return out


def pdftotext(pdf: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["pdftotext", *args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@pytest.fixture(scope="session", autouse=True)
def _font_cache(tmp_path_factory):
    """The PDF's CJK subset cache (report/fontcache.py) goes to a folder of this session, not the
    user's ~/.cache; tests of the cache itself point it elsewhere."""
    import os

    old = os.environ.get("FIRMPASS_FONT_CACHE")
    os.environ["FIRMPASS_FONT_CACHE"] = str(tmp_path_factory.mktemp("fontcache"))
    yield
    if old is None:
        os.environ.pop("FIRMPASS_FONT_CACHE", None)
    else:
        os.environ["FIRMPASS_FONT_CACHE"] = old
