"""The typed sections of ScanResult.extra: a real scan's sections validate against their models and are
written under their published names; an older findings.json (no schema_version, a section in another
shape) still loads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from firmpass.model import (EXTRA_SECTIONS, SCHEMA_VERSION, BusyboxFacts, ChecksRun, HardeningSummary, KernelFacts,
                            LoggingFacts, RtosHit, ScanResult, SecureBootSummary, ServiceStart)

FX = Path(__file__).resolve().parents[1] / "fixtures" / "report" / "findings.json"


@pytest.fixture(scope="module")
def scan(corpus, tmp_path_factory):
    from firmpass.context import ScanOptions
    from firmpass import pipeline

    out = tmp_path_factory.mktemp("typed") / "out"
    pipeline.scan(corpus / "rootfs-gzip.sqfs", out, ScanOptions(pdf=False, progress=False),
                  stages=["unpack", "inventory", "identify", "vulns", "checks"])
    return out


def test_a_real_scan_writes_typed_sections_under_their_names(scan):
    raw = json.loads((scan / "findings.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == SCHEMA_VERSION
    for name in ("inventory", "busybox", "kernel", "hardening", "secure_boot", "checks_run", "vuln_db"):
        if name in raw["extra"]:
            assert raw["extra"][name] is not None
    r = ScanResult.model_validate(raw)
    hard = r.section("hardening")
    assert isinstance(hard, HardeningSummary) and hard.elf_count > 100 and hard.files
    assert hard.model_dump(exclude_unset=True) == raw["extra"]["hardening"]  # the published shape, unchanged
    bb = r.section("busybox")
    assert isinstance(bb, BusyboxFacts) and bb.version and "sh" in bb.applets
    assert isinstance(r.section("secure_boot"), SecureBootSummary)
    assert "HARD-001" in r.section("checks_run")
    assert json.loads(r.to_json())["extra"] == raw["extra"]  # load + write keeps every section as it was


def test_older_findings_json_loads_and_odd_sections_are_kept(tmp_path):
    raw = json.loads(FX.read_text(encoding="utf-8"))
    raw.pop("schema_version", None)
    raw.setdefault("extra", {})["kernel"] = "6.1.0"  # a shape no model knows: kept as written
    raw["extra"]["hardening"] = {"elf_count": "3", "nx": 2}  # coerced to the model's types, keys kept
    r = ScanResult.model_validate(raw)
    assert r.schema_version == 1
    assert r.extra["kernel"] == "6.1.0" and r.section("kernel") is None
    assert r.extra["hardening"] == {"elf_count": 3, "nx": 2}
    assert r.section("hardening").pie == 0
    assert set(EXTRA_SECTIONS) >= {"kernel", "busybox", "hardening", "secure_boot", "vuln_db", "checks_run"}
    k = KernelFacts.model_validate({"version": "6.1.192", "release": "6.1.0-57", "config": None, "modules": []})
    assert k.version == "6.1.192"


def test_report_rerenders_an_older_findings_json(tmp_path):
    """A findings.json written before schema_version (the report fixture) re-renders as before."""
    from firmpass.context import ScanOptions
    from firmpass.pipeline import load_context, run_stages

    shutil.copy(FX, tmp_path / "findings.json")
    ctx = run_stages(load_context(tmp_path, ScanOptions(pdf=False)), ["report", "evidence"])
    assert (tmp_path / "report.html").is_file() and ctx.result.tool.stages["report"]["files"] == ["report.html"]


def test_the_checks_stage_sections_are_typed_in_their_published_shape(scan):
    raw = json.loads((scan / "findings.json").read_text(encoding="utf-8"))
    r = ScanResult.model_validate(raw)
    ran = r.section("checks_run")
    assert isinstance(ran, ChecksRun) and list(ran) == raw["extra"]["checks_run"] and len(ran) > 10
    services = r.section("checks_services")
    assert services and all(isinstance(x, ServiceStart) for x in services)
    # "class" is the published key (a Python keyword in the model: class_)
    assert [x.model_dump(by_alias=True, exclude_unset=True) for x in services] == raw["extra"]["checks_services"]
    assert "class_" not in json.dumps(raw["extra"]["checks_services"])
    logging = r.section("checks_logging")
    assert isinstance(logging, LoggingFacts) and logging.model_dump(exclude_unset=True) == raw["extra"]["checks_logging"]
    assert isinstance(r.section("checks_updates"), list)


def test_rtos_section_round_trips_and_a_bad_one_is_kept():
    raw = json.loads(FX.read_text(encoding="utf-8"))
    hit = {"name": "FreeRTOS", "version": "10.4.3", "evidence": "FreeRTOS Kernel V10.4.3", "path": "/fw.bin",
           "container": "0"}
    raw.setdefault("extra", {})["rtos"] = [hit]
    r = ScanResult.model_validate(raw)
    assert r.section("rtos") == [RtosHit(**hit)] and json.loads(r.to_json())["extra"]["rtos"] == [hit]
    raw["extra"]["rtos"] = {"not": "a list"}
    r = ScanResult.model_validate(raw)
    assert r.extra["rtos"] == {"not": "a list"} and r.section("rtos") is None
