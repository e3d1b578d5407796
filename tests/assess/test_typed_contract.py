"""The typed contract between stages on the real stages' output (the session's real scans of corpus
images): the evidence methods identify writes, the package origin it hands to vulns, the vulnerability
facts, assessment.json as the assess stage writes it, and the profile model generated from schema.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmpass.assess import write_assessment
from firmpass.assess.engine import assess
from firmpass.model import ASSESSMENT_SCHEMA_VERSION, Assessment, EvidenceMethod, MarketSummary, Vulnerability

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_every_evidence_method_identify_writes_is_known(firmware, vendor):
    methods = {e.method for r in (firmware, vendor) for c in r.components for e in c.evidence}
    assert methods
    unknown = sorted(m for m in methods if EvidenceMethod.of(m) is None)
    assert not unknown, unknown
    assert EvidenceMethod.of("file-name+sibling") is EvidenceMethod.FILE_NAME
    assert EvidenceMethod.of("kernel-banner-gzip") is EvidenceMethod.KERNEL_BANNER
    assert EvidenceMethod.of("dpkg-status").technique == "manifest-analysis"
    assert EvidenceMethod.of("uimage-name").technique == "filename"


def test_package_origin_is_what_identify_recorded(corpus, tmp_path):
    """The identify -> vulns hand-over, typed: the real dpkg database of the corpus's Debian rootfs."""
    from PySquashfsImage import SquashFsImage

    from firmpass.identify import identify
    from firmpass.model import FileEntry
    from tests.treectx import context_from_tree

    img = SquashFsImage.from_file(str(Path(corpus) / "rootfs-dpkg.sqfs"))
    try:
        status = img.select("/var/lib/dpkg/status").read_bytes()
    finally:
        img.close()
    (tmp_path / "status").write_bytes(status)
    ctx = context_from_tree((Path(corpus) / "rootfs").resolve(), tmp_path / "out")
    ctx.result.files.append(FileEntry(path="/var/lib/dpkg/status", container="0.1", type="file",
                                      size=len(status), disk_path=str(tmp_path / "status")))
    comps = [c for c in identify(ctx) if c.properties.get("package_db") == "dpkg"]
    assert comps
    for c in comps:
        o = c.origin()
        assert o.package_db == "dpkg" and o.distro == "debian"
        assert o.package_version == c.properties["package_version"] and o.source_package == c.properties.get("source_package")
    ssl = next(c for c in comps if c.name == "libssl3")
    assert ssl.origin().source_package == "openssl"


def test_vulnerability_facts_are_validated_and_keep_their_shape(firmware):
    vulns = firmware.vulnerabilities
    assert vulns and all(v.typed("match") is not None for v in vulns)
    m = vulns[0].typed("match")
    assert m.criteria == vulns[0].match["criteria"] and m.version == vulns[0].match.get("version")
    exploited = [v for v in vulns if v.kev]
    for v in exploited:
        assert v.typed("kev").date_added == v.kev.get("date_added")
    # an older or foreign shape is kept as written, never the reason a result does not load
    odd = Vulnerability(id="CVE-2024-0001", component="c", component_name="c", kev={"date_added": 20240101})
    assert odd.kev == {"date_added": 20240101} and odd.typed("kev") is None
    assert Vulnerability.model_validate_json(odd.model_dump_json()).kev == odd.kev


def test_assessment_json_has_its_schema_version_and_validates(firmware, tmp_path):
    data = assess(firmware, None, None)
    assert data["schema_version"] == ASSESSMENT_SCHEMA_VERSION
    a = Assessment.of(json.loads(write_assessment(tmp_path, data).read_text(encoding="utf-8")))
    assert a is not None and len(a.verdicts) == len(data["verdicts"]) and set(a.summary) == {"eu", "uk", "us", "cn"}
    assert isinstance(a.summary["eu"], MarketSummary) and a.summary["eu"].frameworks == ["cra", "en303645", "en18031"]
    bad = dict(data, verdicts=[dict(data["verdicts"][0], verdict="probably")])
    with pytest.raises(ValueError):
        write_assessment(tmp_path, bad)


def test_an_older_assessment_json_still_loads():
    """The report fixture was written before schema_version: it reads as version 1."""
    old = json.loads((FIX / "report" / "assessment.json").read_text(encoding="utf-8"))
    assert "schema_version" not in old
    a = Assessment.of(old)
    assert a.schema_version == 1 and a.verdicts and a.summary["eu"].score is not None
    assert Assessment.of({"verdicts": "junk"}) is None and Assessment.of(None) is None


def test_the_profile_model_is_generated_from_the_schema():
    from firmpass.present.format import get as present_get
    from firmpass.profile import get, load_profile, schema
    from firmpass.profile.model import profile_model

    P = profile_model()
    assert set(P.model_fields) == set(schema()["properties"])
    assert set(P.model_fields["support"].annotation.__args__[0].model_fields) == set(
        schema()["properties"]["support"]["properties"])
    for f in sorted(FIX.glob("profile-*.yaml")):
        p = P.of(load_profile(f))
        assert p.product.name and p.schema_version == 1
    # one reader of dotted fields: the report's is the profile's, null read as absent
    prof = {"support": {"end_date": None, "expected_use_years": 6}}
    assert get(prof, "support.expected_use_years") == present_get(prof, "support.expected_use_years") == 6
    assert get(prof, "support.end_date", "-") is None and present_get(prof, "support.end_date", "-") == "-"
