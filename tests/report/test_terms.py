"""The one Chinese/English term base (firmpass.i18n.terms): no avoided rendering anywhere in the
project's catalogues and templates, every evidence template names regulations through it, and a
profile value shown in a Chinese row is Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmpass.i18n import terms as tb

SRC = Path(__file__).resolve().parents[2] / "src" / "firmpass"


def test_no_avoided_rendering_in_any_catalogue_or_template():
    bad = tb.avoided()
    assert {"网络弹性法案", "消除差距"} <= set(bad)
    files = [p for p in SRC.rglob("*") if p.suffix in (".yaml", ".j2", ".py") and p.name != "terms.yaml"]
    assert len(files) > 50
    hits = [(p.relative_to(SRC).as_posix(), b) for p in files for b in bad if b in p.read_text(encoding="utf-8")]
    assert hits == []


def test_fixed_terms():
    assert tb.term("cra").zh == "《网络韧性法案》"
    assert tb.term("remediation").zh == "整改" and tb.term("notified_body").zh == "公告机构"
    assert tb.term("placing_on_market").zh == "投放市场" and tb.term("declaration_of_conformity").zh == "符合性声明"
    assert "网络安全等级保护 2.0" in tb.term("mlps").zh
    with pytest.raises(KeyError):
        tb.term("no-such-term")


def test_every_evidence_template_names_regulations_through_the_term_base():
    for p in (SRC / "evidence" / "templates").glob("*.md.j2"):
        if p.name.startswith("_"):
            continue
        text = p.read_text(encoding="utf-8")
        assert "T." in text, p.name  # the term base is in the environment as T
        assert "《" not in text, p.name  # a Chinese regulation name is never typed into a template


@pytest.mark.parametrize("v, zh", [(True, "是"), (False, "否"), ("critical", "严重"), ("shared-default", "统一默认口令"),
                                   (["eu", "cn"], "欧盟、中国"), ("http", "明文 HTTP"), ("unsigned", "启动镜像未签名"),
                                   ({"verdict": "met", "evidence": "report.pdf"}, "符合（report.pdf）"),
                                   ("ACME free text", "ACME free text")])
def test_values_in_chinese_rows(v, zh):
    assert tb.value(v).zh == zh


def test_every_schema_enum_value_has_a_chinese_rendering():
    import json

    schema = json.loads((SRC / "profile" / "schema.json").read_text(encoding="utf-8"))
    enums = []

    def walk(o):
        if isinstance(o, dict):
            if "enum" in o and all(isinstance(x, str) for x in o["enum"]):
                enums.extend(o["enum"])
            for x in o.values():
                walk(x)
        elif isinstance(o, list):
            for x in o:
                walk(x)

    walk(schema)
    ascii_only = [e for e in set(enums) if tb.value(e).zh == e and not e.startswith(("V", "B+C", "EUCC", "A", "H"))
                  and e not in ("https", "tls")]
    assert ascii_only == [], ascii_only
