"""Evidence details are bilingual: every detail the checks write over the corpus rootfs (planted defects)
has a Chinese text, and findings.json stores it as {"en": ..., "zh": ...}."""
import json

from firmpass.model import ScanResult, Text
from tests.evidence_text import is_translated, untranslated_details


def test_rule_tells_a_translation_from_a_copy():
    assert is_translated("由 /etc/inittab 启动") and is_translated("secure_mode") and is_translated("rsa-2048 PEM")
    assert not is_translated("") and not is_translated("   ")
    assert not is_translated("secure_mode off")  # "off" is an English word, not a token
    assert not is_translated("updater file") and not is_translated("started via inittab")


def test_rule_flags_english_only_details(rootfs_result):
    f = rootfs_result.findings[0].model_copy(deep=True)
    f.evidence[0].detail = Text(en="updater file", zh="updater file")
    assert untranslated_details([f]) == [f"{f.id}: en='updater file' zh='updater file'"]
    assert untranslated_details([{"id": "X-1", "evidence": [{"detail": "init script"}]}]) == \
        ["X-1: plain string 'init script'"]


def test_corpus_details_all_translated(rootfs_result, triple_result):
    for res in (rootfs_result, triple_result):
        assert untranslated_details(res.findings) == []
        with_detail = {f.check for f in res.findings for e in f.evidence if e.detail}
        # the planted defects exercise the detail of each family's checks
        assert {"CRED-001", "CRED-002", "CRED-003", "CRED-006", "KEY-001", "KEY-003", "KEY-004", "SVC-001",
                "SVC-002", "SVC-003", "SVC-004", "SVC-007", "LOG-001", "HARD-001", "UPD-001",
                "BOOT-005"} <= with_detail, with_detail
    svc = next(f for f in rootfs_result.findings if f.check == "SVC-001")
    assert svc.evidence[0].detail == Text(en="started via init-script", zh="由 init 启动脚本启动")


def test_findings_json_holds_both_languages(rootfs_result):
    doc = json.loads(rootfs_result.to_json())
    details = [e["detail"] for f in doc["findings"] for e in f["evidence"] if e["detail"] is not None]
    assert details and all(set(d) == {"en", "zh"} for d in details)
    back = ScanResult.model_validate_json(rootfs_result.to_json())
    assert [e.detail for f in back.findings for e in f.evidence] == \
        [e.detail for f in rootfs_result.findings for e in f.evidence]
