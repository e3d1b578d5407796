"""Pipeline guarantees: findings.json after every stage, a failing stage never loses earlier results."""
from __future__ import annotations

import json

import pytest

from firmpass import pipeline
from firmpass.context import ScanOptions


def test_failing_stage_keeps_results_and_records_warning(tmp_path, monkeypatch):
    img = tmp_path / "img.bin"
    img.write_bytes(b"\x00" * 4096)
    calls = []

    def good(ctx):
        calls.append("good")
        ctx.result.extra["good"] = 1

    def bad(ctx):
        calls.append("bad")
        raise RuntimeError("boom")

    def after(ctx):
        calls.append("after")
        ctx.result.extra["after"] = 2

    table = {"good": good, "bad": bad, "after": after}
    monkeypatch.setattr(pipeline, "stage_runner", lambda name: table[name])
    ctx = pipeline.scan(img, tmp_path / "out", ScanOptions(), stages=["good", "bad", "after"])
    assert calls == ["good", "bad", "after"]
    data = json.loads((tmp_path / "out" / "findings.json").read_text())
    for section in ("image", "files", "components", "vulnerabilities", "findings"):
        assert section in data
    assert data["extra"] == {"good": 1, "after": 2}
    assert data["tool"]["stages"]["bad"]["status"] == "failed"
    w = [w for w in data["warnings"] if w["stage"] == "bad"]
    assert w and "boom" in w[0]["message"]["en"] and w[0]["message"]["zh"]
    assert data["image"]["sha256"] == __import__("hashlib").sha256(img.read_bytes()).hexdigest()
    assert ctx.result.tool.finished


def test_fatal_stage_still_writes_findings(tmp_path, monkeypatch):
    from firmpass.errors import UnusableInput

    img = tmp_path / "img.bin"
    img.write_bytes(b"junk" * 10)

    def unpack(ctx):
        raise UnusableInput("err.not_firmware", path=str(img))

    monkeypatch.setattr(pipeline, "stage_runner", lambda name: unpack)
    with pytest.raises(UnusableInput):
        pipeline.scan(img, tmp_path / "out", ScanOptions(), stages=["unpack"])
    data = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert data["tool"]["stages"]["unpack"]["status"] == "failed"
    assert data["image"]["size"] == 40


def test_every_cli_message_is_bilingual():
    import string

    from firmpass.i18n import _catalogue, keys, msg

    for k in keys():
        names = {f for lang in ("en", "zh") for _, f, _, _ in string.Formatter().parse(_catalogue()[k][lang]) if f}
        t = msg(k, **{n: "x" for n in names})
        assert t.en.strip() and t.zh.strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t.zh), k


def test_fatal_stage_bug_keeps_findings_and_becomes_internal_error(tmp_path, monkeypatch):
    """An unexpected exception in unpack (a bug, or input no handler foresaw): findings.json is on
    disk before the error leaves the pipeline, and it is an exit-2 error with a one-line detail."""
    from firmpass.errors import InternalError

    img = tmp_path / "img.bin"
    img.write_bytes(b"junk" * 10)

    def unpack(ctx):
        ctx.result.extra["read_so_far"] = 3
        raise KeyError("line one\nline two")

    monkeypatch.setattr(pipeline, "stage_runner", lambda name: unpack)
    with pytest.raises(InternalError) as e:
        pipeline.scan(img, tmp_path / "out", ScanOptions(), stages=["unpack"])
    assert e.value.exit_code == 2 and "\n" not in e.value.text.en and "KeyError" in e.value.text.en
    assert str(tmp_path / "out") in e.value.text.en and "内部错误" in e.value.text.zh
    data = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert data["extra"]["read_so_far"] == 3 and data["tool"]["stages"]["unpack"]["status"] == "failed"


def test_stage_failure_detail_is_one_line_and_bilingual(tmp_path, monkeypatch):
    from firmpass.errors import UnusableInput

    img = tmp_path / "img.bin"
    img.write_bytes(b"\x00" * 64)

    def multi(ctx):
        raise ValueError("first line\n(Background on this error at: https://example.invalid/)")

    def bilingual(ctx):
        raise UnusableInput("err.bad_db", path="x.db", detail=__import__("firmpass.model").model.Text(en="not SQLite", zh="不是 SQLite"))

    table = {"multi": multi, "bilingual": bilingual}
    monkeypatch.setattr(pipeline, "stage_runner", lambda name: table[name])
    ctx = pipeline.scan(img, tmp_path / "out", ScanOptions(), stages=["multi", "bilingual"])
    w = {x.stage: x.message for x in ctx.result.warnings}
    assert "\n" not in w["multi"].en and "first line" in w["multi"].en and "Background" not in w["multi"].en
    assert "not SQLite" in w["bilingual"].en and "不是 SQLite" in w["bilingual"].zh and "not SQLite" not in w["bilingual"].zh
