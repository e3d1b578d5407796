"""sbom stage: CycloneDX 1.6 JSON (cyclonedx-python-lib) and SPDX 2.3 JSON (spdx-tools) from the result.

The firmware is the root component (name from the profile, /etc/os-release or the image name; version
from the profile or os-release; the image's SHA-256/SHA-512).  Each component carries name, version,
supplier, PURL, CPE, file names, SHA-512 and SHA-256, licences where a package database gave them,
dependencies, CycloneDX evidence (identity with confidence and methods, occurrences per path and
container) and the BSI TR-03183-2 properties (bsi:component:filename / executable / archive /
structured).  What is not known is said explicitly rather than guessed: licence and supplier
"NOASSERTION" (SPDX's term; a CycloneDX property firmpass:* = NOASSERTION), dependency completeness
"incomplete" (compositions) - NTIA's "known unknowns".

The CycloneDX SBOM also carries result.vulnerabilities (the project's contract); note that TR-03183-2
prefers vulnerability data in a separate CSAF/VEX document (`firmpass sbom check` mentions it).
"""
from __future__ import annotations

import json
import posixpath
import re
import uuid
from urllib.parse import quote
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import firmpass  # firmpass.__version__ is looked up when an SBOM is written (start-up stays light)
from firmpass.context import ScanContext
from firmpass.model import Component, EvidenceMethod, ScanResult

NOASSERTION = "NOASSERTION"
TOOL = "firmpass"
TOOL_URL = "https://github.com/firmpass/firmpass"


# ---------------------------------------------------------------------------------------------- helpers
def _os_release(result: ScanResult, out: Path | None) -> dict[str, str]:
    for f in result.files:
        if f.path in ("/etc/os-release", "/usr/lib/os-release") and f.type == "file" and f.disk_path:
            p = Path(f.disk_path) if Path(f.disk_path).is_absolute() else (out or Path(".")) / f.disk_path
            try:
                text = p.read_text(encoding="utf-8", errors="replace")[:65536]
            except OSError:
                continue
            kv = {}
            for line in text.splitlines():
                m = re.match(r"^([A-Z_]+)=(.*)$", line.strip())
                if m:
                    kv[m.group(1)] = m.group(2).strip().strip('"\'')
            return kv
    return {}


def root_info(result: ScanResult, profile: dict | None = None, out: Path | None = None) -> dict[str, Any]:
    """Name, version and supplier of the firmware (the SBOM's root component)."""
    prof = profile or {}
    product = prof.get("product") or {}
    manu = prof.get("manufacturer") or {}
    osr = _os_release(result, out)
    # a vendor header's own fields (model, version) when the unpacker recorded them
    hdr = result.image.container_chain[0].meta if result.image.container_chain else {}
    hdr_name = hdr.get("model") or hdr.get("name") if isinstance(hdr, dict) else None
    hdr_version = (hdr.get("version") or hdr.get("firmware_version")) if isinstance(hdr, dict) else None
    name = product.get("name") or osr.get("NAME") or (str(hdr_name) if hdr_name else None) or result.image.name
    version = product.get("firmware_version") or osr.get("VERSION_ID") or (osr.get("VERSION") or "").split(" ")[0] \
        or (str(hdr_version) if hdr_version else None)
    return {
        "name": name, "version": version or NOASSERTION, "supplier": manu.get("name"),
        "supplier_url": manu.get("website"), "supplier_email": manu.get("email"),
        "sha256": result.image.sha256, "sha512": result.image.sha512, "file": result.image.name,
        "model": product.get("model"), "os_release": osr.get("PRETTY_NAME"),
    }


def _is_executable(c: Component, result_files: dict[str, Any]) -> bool:
    f = result_files.get(c.properties.get("main_file") or (c.files[0] if c.files else ""))
    if f is not None:
        return f.elf is not None or bool(f.mode & 0o111) or c.type in ("library", "application", "operating-system")
    return c.type in ("library", "application", "operating-system", "firmware")


def _filename(c: Component) -> str | None:
    main = c.properties.get("main_file") or (c.files[0] if c.files else None)
    return posixpath.basename(main) if main else None


# ---------------------------------------------------------------------------------------------- CycloneDX
def build_cyclonedx(result: ScanResult, profile: dict | None = None, out: Path | None = None) -> str:
    """The CycloneDX 1.6 JSON text (validated by the caller / tests with JsonStrictValidator)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.output.json import JsonV1Dot6

    files = {f.path: f for f in result.files}
    ri = root_info(result, profile, out)
    bom = Bom()
    root = _cx_metadata(bom, result, ri)
    cx_by_ref: dict[str, Any] = {}
    for c in result.components:
        cx = _cx_component(c, files)
        cx_by_ref[c.bom_ref] = cx
        bom.components.add(cx)
    bom.register_dependency(root, list(cx_by_ref.values()))
    for c in result.components:
        deps = [cx_by_ref[d] for d in c.dependencies if d in cx_by_ref]
        bom.register_dependency(cx_by_ref[c.bom_ref], deps)
    # vulnerabilities (the sbom stage runs after vulns)
    _add_vulnerabilities(bom, result)
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    doc = json.loads(text)
    # dependency completeness (BSI TR-03183-2 / NTIA known unknowns): the graph is what DT_NEEDED and the
    # package database say; dynamically loaded modules (dlopen) are not seen, so it is "incomplete".
    doc["compositions"] = [
        {"aggregate": "incomplete", "dependencies": [c.bom_ref for c in result.components] + ["firmware"]},
    ]
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _cx_hashes(sha256: str | None, sha512: str | None) -> list:
    from cyclonedx.model import HashAlgorithm, HashType
    h = []
    if sha512:
        h.append(HashType(alg=HashAlgorithm.SHA_512, content=sha512))
    if sha256:
        h.append(HashType(alg=HashAlgorithm.SHA_256, content=sha256))
    return h


def _cx_metadata(bom, result: ScanResult, ri: dict):
    """The BOM's metadata (the firmware as root component, the tool, authors, manufacturer); returns the root."""
    from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.component import Component as CxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
    from cyclonedx.model.tool import ToolRepository
    from packageurl import PackageURL

    root_supplier = OrganizationalEntity(
        name=ri["supplier"] or NOASSERTION,
        urls=[XsUri(ri["supplier_url"])] if ri["supplier_url"] else None,
        contacts=[OrganizationalContact(email=ri["supplier_email"])] if ri["supplier_email"] else None)
    root = CxComponent(
        type=ComponentType.FIRMWARE, name=ri["name"], version=ri["version"], bom_ref="firmware",
        supplier=root_supplier, hashes=_cx_hashes(ri["sha256"], ri["sha512"]),
        purl=PackageURL(type="generic", name=ri["name"], version=ri["version"]),
        properties=[Property(name="bsi:component:filename", value=ri["file"]),
                    Property(name="bsi:component:executable", value="executable"),
                    Property(name="bsi:component:archive", value="archive"),
                    Property(name="bsi:component:structured", value="structured"),
                    Property(name="firmpass:license", value=NOASSERTION)])
    bom.metadata.component = root
    bom.metadata.timestamp = datetime.now(timezone.utc).replace(microsecond=0)
    tool = CxComponent(type=ComponentType.APPLICATION, name=TOOL, version=firmpass.__version__, bom_ref="tool-firmpass",
                       supplier=OrganizationalEntity(name="firmpass project", urls=[XsUri(TOOL_URL)]),
                       external_references=[ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(TOOL_URL))])
    bom.metadata.tools = ToolRepository(components=[tool])
    bom.metadata.authors = [OrganizationalContact(name=f"{TOOL} {firmpass.__version__} (automated)",
                                                  email=ri["supplier_email"] or None)]
    if ri["supplier"]:
        bom.metadata.manufacturer = OrganizationalEntity(name=ri["supplier"],
                                                         urls=[XsUri(ri["supplier_url"])] if ri["supplier_url"] else None)
    bom.metadata.properties.add(Property(name="firmpass:image:sha256", value=result.image.sha256))
    return root


def _cx_properties(c: Component, files: dict) -> list:
    """A component's properties: the BSI TR-03183-2 ones, the known unknowns, and firmpass's own."""
    from cyclonedx.model import Property
    props = []
    fn = _filename(c)
    if fn:
        props.append(Property(name="bsi:component:filename", value=fn))
    props += [Property(name="bsi:component:executable",
                       value="executable" if _is_executable(c, files) else "non-executable"),
              Property(name="bsi:component:archive", value="no archive"),
              Property(name="bsi:component:structured", value="unstructured")]
    if not c.licenses:
        props.append(Property(name="firmpass:license", value=NOASSERTION))
    if not c.supplier:
        props.append(Property(name="firmpass:supplier", value=NOASSERTION))
    props.append(Property(name="firmpass:confidence", value=str(c.confidence)))
    for k, v in sorted(c.properties.items()):
        if k in ("applets",):
            v = " ".join(v)
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False)
        props.append(Property(name=f"firmpass:{k}", value=str(v)))
    for f in c.files:
        props.append(Property(name="firmpass:file", value=f))
    return props


def _cx_evidence(c: Component):
    """How the component was identified (methods per evidence kind) and where (occurrences)."""
    from cyclonedx.model.component_evidence import (AnalysisTechnique, ComponentEvidence, Identity, IdentityField,
                                                    Method, Occurrence)
    methods = []
    seen_m = set()
    for e in c.evidence:
        if e.method in seen_m:
            continue
        seen_m.add(e.method)
        kind = EvidenceMethod.of(e.method)
        tech = AnalysisTechnique(kind.technique if kind else
                                 "binary-analysis" if e.method.startswith(("kernel-", "signature-")) else "other")
        methods.append(Method(technique=tech, confidence=Decimal(str(c.confidence)),
                              value=f"{e.method}{': ' + e.rule if e.rule else ''}{' = ' + e.match if e.match else ''}"[:500]))
    occ = [Occurrence(location=e.path, additional_context=f"container {e.container}; {e.method}")
           for e in c.evidence if e.path]
    return ComponentEvidence(
        identity=[Identity(field=IdentityField.NAME, confidence=Decimal(str(c.confidence)), methods=methods)]
        + ([Identity(field=IdentityField.VERSION, confidence=Decimal(str(c.confidence)), concluded_value=c.version)]
           if c.version else []),
        occurrences=occ)


def _cx_component(c: Component, files: dict):
    from cyclonedx.model.component import Component as CxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from packageurl import PackageURL

    ctype = {"application": ComponentType.APPLICATION, "library": ComponentType.LIBRARY,
             "operating-system": ComponentType.OPERATING_SYSTEM, "firmware": ComponentType.FIRMWARE,
             "file": ComponentType.FILE, "framework": ComponentType.FRAMEWORK}
    purl = None
    if c.purl:
        try:
            purl = PackageURL.from_string(c.purl)
        except ValueError:
            purl = None
    return CxComponent(
        type=ctype.get(c.type, ComponentType.APPLICATION), name=c.name, version=c.version or NOASSERTION,
        bom_ref=c.bom_ref, supplier=OrganizationalEntity(name=c.supplier) if c.supplier else None,
        purl=purl, cpe=c.cpe, hashes=_cx_hashes(c.hashes.get("sha256"), c.hashes.get("sha512")),
        licenses=_cdx_licenses(c.licenses, DisjunctiveLicense, LicenseExpression),
        properties=_cx_properties(c, files), evidence=_cx_evidence(c))


def _cdx_licenses(names: list[str], Disjunctive, Expression) -> list:  # noqa: N803 - classes passed in (lazy imports)
    """CycloneDX licences: an SPDX id where the text is one (case-corrected, DEP-5 short names mapped:
    BSD-3-clause -> BSD-3-Clause, GPL-3+ -> GPL-3.0-or-later), an SPDX expression where it is one, else a
    licence by name (Wietse, public-domain).  The schema allows either licences or one expression: several
    licences with an expression among them become one expression when every part is SPDX."""
    from firmpass.sbom.licenses import classify

    kinds = [classify(n) for n in names]
    if any(k == "expression" for k, _ in kinds):
        if len(kinds) == 1:
            return [Expression(kinds[0][1])]
        if all(k != "name" for k, _ in kinds):
            return [Expression(" AND ".join(f"({v})" if k == "expression" else v for k, v in kinds))]
    return [Disjunctive(id=v) if k == "id" else Disjunctive(name=n.strip()) for (k, v), n in zip(kinds, names)]


def _add_vulnerabilities(bom, result: ScanResult) -> None:
    if not result.vulnerabilities:
        return
    from cyclonedx.model import XsUri
    from cyclonedx.model.impact_analysis import ImpactAnalysisJustification, ImpactAnalysisState
    from cyclonedx.model.vulnerability import (BomTarget, Vulnerability, VulnerabilityAnalysis, VulnerabilityRating,
                                               VulnerabilityReference, VulnerabilityScoreSource, VulnerabilitySeverity,
                                               VulnerabilitySource)

    refs = {c.bom_ref for c in result.components}
    meth = {"2.0": VulnerabilityScoreSource.CVSS_V2, "3.0": VulnerabilityScoreSource.CVSS_V3,
            "3.1": VulnerabilityScoreSource.CVSS_V3_1, "4.0": VulnerabilityScoreSource.CVSS_V4}
    state = {"affected": ImpactAnalysisState.EXPLOITABLE, "not_affected": ImpactAnalysisState.NOT_AFFECTED,
             "fixed": ImpactAnalysisState.RESOLVED, "under_investigation": ImpactAnalysisState.IN_TRIAGE}
    for v in result.vulnerabilities:
        src = VulnerabilitySource(name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{v.id}")) \
            if v.id.startswith("CVE-") else VulnerabilitySource(name="OSV")
        ratings = []
        for s in v.cvss:
            sev = (s.severity or "").lower()
            ratings.append(VulnerabilityRating(
                source=VulnerabilitySource(name=s.source or "NVD"), score=Decimal(str(s.base_score)),
                severity=VulnerabilitySeverity(sev) if sev in {x.value for x in VulnerabilitySeverity} else None,
                method=meth.get(s.version, VulnerabilityScoreSource.OTHER), vector=s.vector))
        for vs in v.vendor_severity:  # the vendor's own qualitative rating (curl): no score, method "other"
            sev = str(vs.get("severity") or "").lower()
            if sev in {x.value for x in VulnerabilitySeverity}:
                ratings.append(VulnerabilityRating(source=VulnerabilitySource(name=str(vs.get("source") or "vendor")),
                                                   severity=VulnerabilitySeverity(sev), method=VulnerabilityScoreSource.OTHER))
        cwes = sorted({int(c["id"].split("-", 1)[1]) for c in v.cwes
                       if str(c.get("id", "")).startswith("CWE-") and c["id"].split("-", 1)[1].isdigit()})
        just = None
        if v.vex.justification:
            try:
                just = ImpactAnalysisJustification(v.vex.justification)
            except ValueError:
                just = None
        analysis = VulnerabilityAnalysis(state=state.get(v.vex.state), justification=just,
                                         detail=v.vex.detail.en if v.vex.detail else None)
        published = None
        if v.published:
            try:
                published = datetime.fromisoformat(v.published.replace("Z", "+00:00"))
                if published.tzinfo is None:
                    published = published.replace(tzinfo=timezone.utc)
            except ValueError:
                published = None
        bom.vulnerabilities.add(Vulnerability(
            bom_ref=f"vuln-{v.id}-{v.component}", id=v.id, source=src, ratings=ratings, cwes=cwes,
            description=v.description, published=published, analysis=analysis,
            references=[VulnerabilityReference(id=a, source=VulnerabilitySource(name="alias")) for a in v.aliases],
            affects=[BomTarget(ref=v.component)] if v.component in refs else []))


def validate_cyclonedx(text: str) -> list[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return [] if err is None else [str(err)]


def write_cyclonedx(result: ScanResult, path: Path, profile: dict | None = None, out: Path | None = None) -> Path:
    text = build_cyclonedx(result, profile, out)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- SPDX
def build_spdx(result: ScanResult, profile: dict | None = None, out: Path | None = None):
    """An spdx_tools Document (SPDX 2.3)."""
    from spdx_tools.spdx.model import Document, Relationship, RelationshipType

    ri = root_info(result, profile, out)
    pkgs = [_spdx_root(ri)]
    rels = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-firmware")]
    ids = {}
    used = set()
    for c in result.components:
        i = _spdx_id(c.bom_ref)
        while i in used:
            i += "-x"
        used.add(i)
        ids[c.bom_ref] = i
        pkgs.append(_spdx_package(c, i))
        rels.append(Relationship("SPDXRef-firmware", RelationshipType.CONTAINS, i))
    for c in result.components:
        for d in c.dependencies:
            if d in ids:
                rels.append(Relationship(ids[c.bom_ref], RelationshipType.DEPENDS_ON, ids[d]))
    return Document(creation_info=_spdx_creation(ri, result.image.sha256), packages=pkgs, relationships=rels)


def _spdx_id(ref: str) -> str:
    """An SPDX element id for a bom-ref (the characters SPDX allows)."""
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.\-]", "-", ref)


def _spdx_checksums(sha256: str | None, sha512: str | None) -> list:
    """The SHA-256 and SHA-512 checksums that are known."""
    from spdx_tools.spdx.model import Checksum, ChecksumAlgorithm

    cs = []
    if sha256:
        cs.append(Checksum(ChecksumAlgorithm.SHA256, sha256))
    if sha512:
        cs.append(Checksum(ChecksumAlgorithm.SHA512, sha512))
    return cs


def _spdx_creation(ri: dict[str, Any], sha256: str):
    """The document's creation info: a unique namespace, firmpass and the supplier as creators, now."""
    from spdx_tools.spdx.model import Actor, ActorType, CreationInfo

    now = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    ns = f"https://spdx.org/spdxdocs/firmpass/{ri['name']}-{sha256[:16]}-{uuid.uuid4()}"
    ns = re.sub(r"[^A-Za-z0-9:/._\-]", "-", ns)
    creators = [Actor(ActorType.TOOL, f"{TOOL}-{firmpass.__version__}")]
    if ri["supplier"]:
        creators.append(Actor(ActorType.ORGANIZATION, ri["supplier"], ri["supplier_email"]))
    return CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=f"SBOM of {ri['name']}",
                        document_namespace=ns, creators=creators, created=now, data_license="CC0-1.0",
                        creator_comment="Generated by firmpass from the firmware image; licences and suppliers not stated "
                                        "by a package database are NOASSERTION.")


def _spdx_root(ri: dict[str, Any]):
    """The firmware image as the document's described package."""
    from spdx_tools.spdx.model import (Actor, ActorType, ExternalPackageRef, ExternalPackageRefCategory, Package,
                                       PackagePurpose, SpdxNoAssertion)

    return Package(spdx_id="SPDXRef-firmware", name=ri["name"], download_location=SpdxNoAssertion(),
                   version=ri["version"], file_name=ri["file"],
                   supplier=Actor(ActorType.ORGANIZATION, ri["supplier"], ri["supplier_email"]) if ri["supplier"] else SpdxNoAssertion(),
                   files_analyzed=False, checksums=_spdx_checksums(ri["sha256"], ri["sha512"]),
                   license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
                   copyright_text=SpdxNoAssertion(), primary_package_purpose=PackagePurpose.FIRMWARE,
                   external_references=[ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl",
                                                           f"pkg:generic/{quote(ri['name'])}@{quote(ri['version'])}")])


def _spdx_package(c: Component, spdx_id: str):
    """One component as a package: purl and CPE references, declared licence, and how it was found (comment)."""
    from spdx_tools.spdx.model import (Actor, ActorType, ExternalPackageRef, ExternalPackageRefCategory, Package,
                                       PackagePurpose, SpdxNoAssertion)

    purpose = {"application": PackagePurpose.APPLICATION, "library": PackagePurpose.LIBRARY,
               "operating-system": PackagePurpose.OPERATING_SYSTEM, "firmware": PackagePurpose.FIRMWARE,
               "file": PackagePurpose.FILE, "framework": PackagePurpose.FRAMEWORK}
    refs = []
    if c.purl:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", c.purl))
    if c.cpe:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.SECURITY, "cpe23Type", c.cpe))
    comment = f"confidence {c.confidence}; files: {', '.join(c.files[:50])}; evidence: " + "; ".join(
        f"{e.method} {e.path or ''} [{e.container}] {e.match or ''}".strip() for e in c.evidence[:20])
    return Package(
        spdx_id=spdx_id, name=c.name, download_location=SpdxNoAssertion(), version=c.version or NOASSERTION,
        file_name=c.properties.get("main_file") or (c.files[0] if c.files else None),
        supplier=Actor(ActorType.ORGANIZATION, c.supplier) if c.supplier else SpdxNoAssertion(),
        files_analyzed=False, checksums=_spdx_checksums(c.hashes.get("sha256"), c.hashes.get("sha512")),
        license_concluded=SpdxNoAssertion(), license_declared=_spdx_license(c.licenses), copyright_text=SpdxNoAssertion(),
        external_references=refs, primary_package_purpose=purpose.get(c.type), comment=comment[:4000])


def _spdx_license(licenses: list[str]):
    from spdx_tools.common.spdx_licensing import spdx_licensing
    from spdx_tools.spdx.model import SpdxNoAssertion

    if not licenses:
        return SpdxNoAssertion()
    from firmpass.sbom.licenses import classify

    kinds = [classify(x) for x in licenses]
    if any(k == "name" for k, _ in kinds):
        return SpdxNoAssertion()  # a licence that is not an SPDX one (Wietse): say nothing rather than guess
    try:
        return spdx_licensing.parse(" AND ".join(f"({v})" if k == "expression" else v for k, v in kinds), validate=True)
    except Exception:  # noqa: BLE001
        return SpdxNoAssertion()


def validate_spdx(doc) -> list[str]:
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    return [m.validation_message for m in validate_full_spdx_document(doc)]


def write_spdx(result: ScanResult, path: Path, profile: dict | None = None, out: Path | None = None) -> Path:
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_file

    doc = build_spdx(result, profile, out)
    write_document_to_file(doc, str(path), validate=False)
    return path


def _profile(ctx: ScanContext) -> dict | None:
    """The product profile when one was given (the assess stage validates it; here it only names the root)."""
    if ctx.profile is not None or ctx.options.profile_path is None:
        return ctx.profile
    try:
        from firmpass.profile import load_profile  # the assess helper's loader, when present

        return load_profile(ctx.options.profile_path)
    except Exception:  # noqa: BLE001 - an invalid profile is reported by the assess stage, not here
        try:
            import yaml

            data = yaml.safe_load(Path(ctx.options.profile_path).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else None
        except Exception:  # noqa: BLE001
            return None


def run(ctx: ScanContext) -> None:
    profile = _profile(ctx)
    write_cyclonedx(ctx.result, ctx.out / "sbom.cdx.json", profile, ctx.out)
    write_spdx(ctx.result, ctx.out / "sbom.spdx.json", profile, ctx.out)
    ctx.result.tool.stages.setdefault("sbom", {}).update(
        {"cyclonedx": "sbom.cdx.json", "spdx": "sbom.spdx.json", "components": len(ctx.result.components)})
