from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmpass import sbom
from firmpass.model import CvssScore, Vulnerability, VexStatement, Text
from firmpass.sbom.check import check_doc, check_sbom


def test_cyclonedx_validates_strictly(scanned):
    text = (scanned.out / "sbom.cdx.json").read_text()
    assert sbom.validate_cyclonedx(text) == []
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6" and doc["serialNumber"].startswith("urn:uuid:")
    root = doc["metadata"]["component"]
    assert (root["type"], root["name"], root["version"]) == ("firmware", "AcmeOS", "1.0.0")  # from /etc/os-release
    assert {h["alg"] for h in root["hashes"]} == {"SHA-256", "SHA-512"}
    assert doc["metadata"]["tools"]["components"][0]["name"] == "firmpass" and doc["metadata"]["timestamp"]
    comps = {c["name"]: c for c in doc["components"]}
    assert len(comps) == len(scanned.result.components)
    o = comps["openssl"]
    assert o["cpe"] == "cpe:2.3:a:openssl:openssl:3.0.22:*:*:*:*:*:*:*" and o["purl"] == "pkg:generic/openssl@3.0.22"
    assert {h["alg"] for h in o["hashes"]} == {"SHA-256", "SHA-512"}
    props = {p["name"]: p["value"] for p in o["properties"]}
    assert props["bsi:component:executable"] == "executable" and props["bsi:component:filename"]
    ev = o["evidence"]
    assert ev["identity"][0]["confidence"] >= 0.9 and ev["identity"][0]["methods"][0]["technique"] == "binary-analysis"
    assert {x["location"] for x in ev["occurrences"]} >= {"/usr/lib/x86_64-linux-gnu/libcrypto.so.3"}
    # weak signal kept and marked
    weak = comps["libxtables"]  # libxtables.so.12.7.0: shipped by two iptables releases, no version
    assert weak["evidence"]["identity"][0]["confidence"] < 0.5 and weak["version"] == "NOASSERTION"
    # dependencies: root contains everything, libcurl -> openssl
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in doc["dependencies"]}
    assert set(comps[n]["bom-ref"] for n in comps) <= deps["firmware"]
    assert comps["openssl"]["bom-ref"] in deps[comps["libcurl"]["bom-ref"]]
    assert doc["compositions"][0]["aggregate"] == "incomplete"
    # busybox applets travel as a property
    bprops = {p["name"]: p["value"] for p in comps["busybox"]["properties"]}
    assert "telnetd" in bprops["firmpass:applets"].split()


def test_spdx_validates_with_spdx_tools(scanned):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    doc = parse_file(str(scanned.out / "sbom.spdx.json"))
    assert validate_full_spdx_document(doc) == []
    assert doc.creation_info.spdx_version == "SPDX-2.3"
    pk = {p.name: p for p in doc.packages}
    assert pk["AcmeOS"].primary_package_purpose.name == "FIRMWARE"
    o = pk["openssl"]
    assert {c.algorithm.name for c in o.checksums} == {"SHA256", "SHA512"}
    assert {r.reference_type for r in o.external_references} == {"purl", "cpe23Type"}
    rels = {(r.spdx_element_id, r.relationship_type.name, r.related_spdx_element_id) for r in doc.relationships}
    assert ("SPDXRef-firmware", "CONTAINS", o.spdx_id) in rels
    assert (pk["libcurl"].spdx_id, "DEPENDS_ON", o.spdx_id) in rels


def test_sbom_check_finds_nothing_missing_in_our_sboms(scanned):
    for name in ("sbom.cdx.json", "sbom.spdx.json"):
        rep = check_sbom(scanned.out / name)
        assert rep["missing"] == [], (name, [f for f in rep["fields"] if f["missing"]])
        assert rep["components"] == len(scanned.result.components) + 1


def test_sbom_check_reports_a_poor_supplier_sbom():
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "components": [{"type": "library", "name": "libfoo", "bom-ref": "a"},
                          {"type": "library", "name": "libbar", "version": "1.0", "supplier": {"name": "Bar Inc."},
                           "hashes": [{"alg": "SHA-512", "content": "00" * 64}], "purl": "pkg:generic/libbar@1.0"}]}
    rep = check_doc(doc)
    f = {x["id"]: x for x in rep["fields"]}
    for fid in ("BSI-SBOM-creator", "BSI-SBOM-timestamp", "NTIA-timestamp", "BSI-C-version", "BSI-C-hash",
                "NTIA-supplier", "BSI-C-licence", "BSI-C-deps", "BSI-C-filename", "BSI-C-ids"):
        assert fid in rep["missing"], fid
    assert f["BSI-C-version"]["missing"] == 1 and f["BSI-C-version"]["examples"] == ["libfoo@None"]
    assert f["BSI-C-hash"]["missing"] == 1 and f["BSI-C-name"]["missing"] == 0


def test_sbom_check_spdx_minimal():
    doc = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
           "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Organization: ACME (a@b.c)"]},
           "documentNamespace": "https://x/y", "packages": [{"SPDXID": "SPDXRef-p", "name": "p"}]}
    rep = check_doc(doc)
    assert "BSI-C-version" in rep["missing"] and "BSI-C-hash" in rep["missing"]
    assert "BSI-SBOM-creator" not in rep["missing"]
    f = {x["id"]: x for x in rep["fields"]}
    assert f["BSI-C-exec"]["state"] == "n/a"


def test_vulnerabilities_go_into_cyclonedx(scanned):
    r = scanned.result.model_copy(deep=True)
    o = next(c for c in r.components if c.name == "openssl")
    r.vulnerabilities = [Vulnerability(
        id="CVE-2023-0286", component=o.bom_ref, component_name="openssl", component_version="3.0.22",
        description="X.400 address type confusion", published="2023-02-08T20:15:00",
        cvss=[CvssScore(version="3.1", vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", base_score=7.4,
                        severity="HIGH", source="nvd@nist.gov")],
        vex=VexStatement(state="not_affected", justification="code_not_present",
                         detail=Text(en="fixed before 3.0.22", zh="3.0.22 之前已修复")))]
    text = sbom.build_cyclonedx(r, None, scanned.out)
    assert sbom.validate_cyclonedx(text) == []
    v = json.loads(text)["vulnerabilities"][0]
    assert v["id"] == "CVE-2023-0286" and v["affects"][0]["ref"] == o.bom_ref
    assert v["ratings"][0]["method"] == "CVSSv31" and v["analysis"]["state"] == "not_affected"
    assert any(n["id"] == "vulns_in_sbom" for n in check_doc(json.loads(text))["notes"])


def test_vendor_rating_and_cwe_go_into_cyclonedx(scanned):
    """A curl CVE rated by curl itself (no CVSS): the rating is kept as the vendor's, with no made-up
    score, and its CWE is carried as a number, as CycloneDX wants."""
    r = scanned.result.model_copy(deep=True)
    c = r.components[0]
    r.vulnerabilities = [Vulnerability(
        id="CVE-2023-38545", component=c.bom_ref, component_name=c.name, component_version=c.version,
        vendor_severity=[{"source": "curl", "severity": "high"}], severity="high", severity_basis="vendor",
        cwes=[{"id": "CWE-122", "name": "Heap-based Buffer Overflow"}])]
    text = sbom.build_cyclonedx(r, None, scanned.out)
    assert sbom.validate_cyclonedx(text) == []
    v = json.loads(text)["vulnerabilities"][0]
    assert v["cwes"] == [122]
    (rating,) = v["ratings"]
    assert rating == {"source": {"name": "curl"}, "severity": "high", "method": "other"}


def test_cli_sbom_image_and_check(corpus, tmp_path, capsys):
    from firmpass.cli import main

    out = tmp_path / "k.cdx.json"
    main(["sbom", str(Path(corpus) / "kernel.bin"), "-o", str(out)])  # bare kernel image: no unpack needed
    doc = json.loads(out.read_text())
    assert sbom.validate_cyclonedx(out.read_text()) == []
    lx = [c for c in doc["components"] if c["name"] == "linux"][0]
    assert lx["cpe"].startswith("cpe:2.3:o:linux:linux_kernel:6.1.")
    capsys.readouterr()
    main(["sbom", "check", str(out), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rep["missing"] == [] and rep["format"] == "CycloneDX 1.6"
    main(["sbom", "check", str(out)])
    txt = capsys.readouterr().out
    assert "BSI-C-hash" in txt and "字段" in txt
    sp = tmp_path / "k.spdx.json"
    main(["sbom", str(Path(corpus) / "kernel.bin"), "-o", str(sp), "--format", "spdx"])
    assert json.loads(sp.read_text())["spdxVersion"] == "SPDX-2.3"


def test_cli_check_bad_input_exits_2(tmp_path, capsys):
    from firmpass.cli import main

    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    for p in (bad, tmp_path / "missing.json"):
        with pytest.raises(SystemExit) as e:
            main(["sbom", "check", str(p)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "/" in err  # one bilingual line
    other = tmp_path / "o.json"
    other.write_text('{"a": 1}')
    with pytest.raises(SystemExit) as e:
        main(["sbom", "check", str(other)])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["sbom", str(bad), "-o", str(tmp_path / "o"), "--format", "xml"])
    assert e.value.code == 2


def test_pipeline_identify_vulns_sbom_on_corpus(corpus, tmp_path, fixtures):
    """Cross-stage: the vulns stage matches our components (CPE / PURL), the CycloneDX SBOM carries its
    vulnerabilities and still validates; findings.json has the components section."""
    from firmpass.context import ScanOptions
    from firmpass.pipeline import run_stages
    from firmpass.vulns.importers import import_paths
    from firmpass.vulns.store import Store
    from tests.treectx import context_from_tree

    import_paths(Store(tmp_path / "v.db"), [fixtures / "vulns"])
    ctx = context_from_tree(Path(corpus / "rootfs").resolve(), tmp_path / "out", ScanOptions(db_path=tmp_path / "v.db"))
    run_stages(ctx, ["identify", "vulns", "sbom"])
    assert all(ctx.result.tool.stages[s]["status"] == "ok" for s in ("identify", "vulns", "sbom"))
    assert ctx.result.vulnerabilities
    text = (ctx.out / "sbom.cdx.json").read_text()
    assert sbom.validate_cyclonedx(text) == []
    doc = json.loads(text)
    refs = {c["bom-ref"] for c in doc["components"]}
    assert len(doc["vulnerabilities"]) == len(ctx.result.vulnerabilities)
    assert all(a["ref"] in refs for v in doc["vulnerabilities"] for a in v["affects"])
    findings = json.loads((ctx.out / "findings.json").read_text())
    assert {c["name"] for c in findings["components"]} >= {"openssl", "busybox", "curl", "libcurl"}


def test_root_from_profile_beats_os_release(scanned):
    prof = {"manufacturer": {"name": "ACME Corp", "website": "https://acme.example", "email": "psirt@acme.example"},
            "product": {"name": "ACME R1000", "firmware_version": "1.0.0-r5"}}
    doc = json.loads(sbom.build_cyclonedx(scanned.result, prof, scanned.out))
    root = doc["metadata"]["component"]
    assert (root["name"], root["version"], root["supplier"]["name"]) == ("ACME R1000", "1.0.0-r5", "ACME Corp")
    assert doc["metadata"]["manufacturer"]["name"] == "ACME Corp"
    sp = sbom.build_spdx(scanned.result, prof, scanned.out)
    assert any(c.name == "ACME Corp" for c in sp.creation_info.creators)
    assert sbom.validate_spdx(sp) == []
