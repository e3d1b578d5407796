"""The checks stage through the real pipeline runner: findings.json written, extras serialisable."""
import json

from firmpass.pipeline import run_stages
from tests.treectx import context_from_tree


def test_stage_via_pipeline(rootfs, tmp_path):
    ctx = context_from_tree(rootfs, tmp_path / "out")
    run_stages(ctx, ["checks"])
    assert ctx.result.tool.stages["checks"]["status"] == "ok"
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())
    ids = {f["id"] for f in doc["findings"]}
    assert len(ids) == len(doc["findings"]) >= 20
    assert doc["extra"]["secure_boot"]["verdict"] == "unknown"
    assert doc["extra"]["hardening"]["elf_count"] > 100
    f = next(f for f in doc["findings"] if f["check"] == "KEY-004")
    assert f["title"]["zh"] and f["evidence"][0]["sha256"]


def test_a_failing_check_is_a_warning(rootfs, tmp_path, monkeypatch):
    from firmpass.checks import registry

    chk = next(c for c in registry.all_checks() if c.id == "SVC-004")

    def boom(run):
        raise RuntimeError("hostile input")

    monkeypatch.setattr(chk, "func", boom)
    ctx = context_from_tree(rootfs, tmp_path / "out")
    run_stages(ctx, ["checks"])
    assert "SVC-004" not in ctx.result.extra["checks_run"] and "SVC-003" in ctx.result.extra["checks_run"]
    w = [w for w in ctx.result.warnings if w.part == "SVC-004"]
    assert w and "hostile input" in w[0].message.en and w[0].message.zh
