"""Every chrome string the report and the evidence stage use exists in English and Chinese."""
from __future__ import annotations

import re
from pathlib import Path

import firmpass.evidence
import firmpass.report
from firmpass.i18n import keys as cli_keys, msg
from firmpass.present.i18n import catalogue, t
from firmpass.report.view import HARDENING_KEYS, SEVERITIES, VERDICTS, VEX_STATES

REPORT_DIR = Path(firmpass.report.__file__).parent
EVIDENCE_DIR = Path(firmpass.evidence.__file__).parent
# t('key') / T('key') in templates, t("key") / _note(notes, "key") in code
KEY_RE = re.compile(r"""\b(?:t|T|_note\(notes,)\s*\(?\s*['"]([a-z_]+(?:\.[a-z0-9_]+)+)['"]""")
# dynamic keys built as 'prefix.' ~ value in templates or f"prefix.{x}" in code
DYN_RE = re.compile(r"""['"]([a-z_]+)\.['"]\s*~|\bt\(f['"]([a-z_]+)\.\{""")

DYNAMIC_VALUES = {
    "verdict": VERDICTS, "severity": SEVERITIES, "vex": VEX_STATES, "hardening": HARDENING_KEYS,
    "secure_boot": ["verified", "signed_no_key", "signature_invalid", "unsigned", "unknown"],
    "market": ["eu", "uk", "us", "cn"],
    "status": ["mandatory", "recommended", "conditional", "informational"],
}


def _sources() -> list[Path]:
    return [p for d in (REPORT_DIR, EVIDENCE_DIR) for p in d.rglob("*") if p.suffix in (".j2", ".py")]


def test_sources_are_found():
    names = {p.name for p in _sources()}
    assert "report.html.j2" in names and "__init__.py" in names


def test_every_static_key_used_has_both_languages():
    cat = catalogue()
    used = set()
    for p in _sources():
        used |= set(KEY_RE.findall(p.read_text(encoding="utf-8")))
    assert len(used) > 60, f"key scan found too little: {sorted(used)[:10]}"
    missing = sorted(k for k in used if k not in cat or not cat[k].get("en") or not cat[k].get("zh"))
    assert not missing, f"keys without en+zh: {missing}"


def test_every_dynamic_key_family_is_complete():
    cat = catalogue()
    prefixes = set()
    for p in _sources():
        for a, b in DYN_RE.findall(p.read_text(encoding="utf-8")):
            prefixes.add(a or b)
    assert {"verdict", "severity", "vex", "hardening"} <= prefixes
    unknown = prefixes - set(DYNAMIC_VALUES)
    assert not unknown, f"dynamic key prefix with no known value list: {unknown}"
    missing = [f"{pre}.{v}" for pre in prefixes for v in DYNAMIC_VALUES[pre]
               if not (cat.get(f"{pre}.{v}") or {}).get("en") or not (cat.get(f"{pre}.{v}") or {}).get("zh")]
    assert not missing, missing


def test_catalogue_entries_all_bilingual_and_chinese_is_chinese():
    for key, entry in catalogue().items():
        assert set(entry) >= {"en", "zh"}, key
        assert entry["en"].strip() and entry["zh"].strip(), key
        # Chinese text has CJK characters unless it is a proper name identical in both
        if entry["zh"] != entry["en"]:
            assert re.search(r"[\u4e00-\u9fff]", entry["zh"]), key
        # placeholders match between languages
        assert set(re.findall(r"\{(\w+)\}", entry["en"])) == set(re.findall(r"\{(\w+)\}", entry["zh"])), key


def test_t_formats_placeholders():
    x = t("report.more_rows", n=7)
    assert "7" in x.en and "7" in x.zh


def test_cli_keys_bilingual():
    ours = [k for k in cli_keys() if k.startswith(("report.", "evidence."))]
    assert "report.done" in ours
    for k in ours:
        m = msg(k, files="a", out="b", path="c")
        assert m.en and re.search(r"[\u4e00-\u9fff]", m.zh)
