"""VEX in and out.

In: a user's triage as CycloneDX VEX, OpenVEX or CSAF VEX -> triage rows keyed by
(vulnerability, product without version) so a decision sticks across rescans and firmware versions.
Out: `to_csaf` (CSAF 2.0, profile csaf_vex), `to_cyclonedx_vex` (CycloneDX 1.5 VEX), and
`validate_csaf` against the CSAF 2.0 JSON schema vendored in firmpass/vulns/schemas/ (with the FIRST
CVSS v2.0 / v3.0 / v3.1 schemas it references) so validation works offline.
"""
from __future__ import annotations

import json
import re
import uuid
import zlib
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from firmpass import __version__
from firmpass.model import Component, ScanResult, Text, Vulnerability, exploit_source_name

# CycloneDX analysis.justification (the model's vocabulary) <-> CSAF / OpenVEX flag labels
CDX_TO_CSAF = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
CSAF_TO_CDX = {
    "component_not_present": "requires_dependency",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
STATE_TO_CDX = {"affected": "exploitable", "not_affected": "not_affected", "fixed": "resolved",
                "under_investigation": "in_triage"}
CDX_TO_STATE = {"exploitable": "affected", "not_affected": "not_affected", "false_positive": "not_affected",
                "resolved": "fixed", "resolved_with_pedigree": "fixed", "in_triage": "under_investigation"}


# ------------------------------------------------------------------------------------ product keys
def purl_key(purl: str | None) -> str | None:
    if not purl:
        return None
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    return PackageURL(type=p.type, namespace=p.namespace, name=p.name).to_string()


def product_keys(c: Component) -> list[str]:
    keys = []
    pk = purl_key(c.purl)
    if pk:
        keys.append(pk)
    if c.properties.get("source_package"):
        keys.append(f"name:{str(c.properties['source_package']).lower()}")
    keys.append(f"name:{c.name.lower()}")
    return list(dict.fromkeys(keys))


def _key_for(ident: str | None, name: str | None = None) -> str | None:
    if ident and ident.startswith("pkg:"):
        return purl_key(ident)
    if name:
        return f"name:{name.lower()}"
    if ident:
        return f"name:{ident.lower()}"
    return None


# ------------------------------------------------------------------------------------ import triage
def parse_triage(obj: dict, origin: str) -> list[dict]:
    if obj.get("bomFormat") == "CycloneDX":
        return _parse_cdx(obj, origin)
    if str(obj.get("@context", "")).startswith("https://openvex.dev"):
        return _parse_openvex(obj, origin)
    if isinstance(obj.get("document"), dict):
        return _parse_csaf(obj, origin)
    return []


def _parse_cdx(obj: dict, origin: str) -> list[dict]:
    refs: dict[str, tuple[str | None, str | None]] = {}

    def walk(comps):
        for c in comps or []:
            refs[c.get("bom-ref", "")] = (c.get("purl"), c.get("name"))
            walk(c.get("components"))
    walk(obj.get("components"))
    meta_c = (obj.get("metadata") or {}).get("component")
    if meta_c:
        walk([meta_c])
    out = []
    for v in obj.get("vulnerabilities") or []:
        an = v.get("analysis") or {}
        state = CDX_TO_STATE.get(an.get("state") or "")
        if not state or not v.get("id"):
            continue
        detail = an.get("detail") or ("false positive" if an.get("state") == "false_positive" else None)
        for a in v.get("affects") or []:
            ref = a.get("ref", "")
            ref = ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
            purl, name = refs.get(ref, (None, None))
            key = _key_for(purl or ref if (purl or ref.startswith("pkg:")) else None, name or ref)
            if key:
                out.append({"vuln_id": v["id"], "product": key, "state": state,
                            "justification": an.get("justification"), "detail": detail, "origin": origin})
    return out


def _parse_openvex(obj: dict, origin: str) -> list[dict]:
    out = []
    for st in obj.get("statements") or []:
        vul = st.get("vulnerability")
        vid = vul.get("name") if isinstance(vul, dict) else vul
        state = st.get("status")
        if not vid or state not in ("not_affected", "affected", "fixed", "under_investigation"):
            continue
        just = CSAF_TO_CDX.get(st.get("justification") or "", None)
        detail = st.get("impact_statement") or st.get("action_statement") or st.get("status_notes")
        for p in st.get("products") or []:
            ident = p.get("@id") if isinstance(p, dict) else p
            ids = [ident] + [v for v in ((p.get("identifiers") or {}).values() if isinstance(p, dict) else [])]
            key = next((_key_for(i) for i in ids if i and str(i).startswith("pkg:")), None) or _key_for(ident)
            if key:
                out.append({"vuln_id": vid, "product": key, "state": state, "justification": just,
                            "detail": detail, "origin": origin})
    return out


def _parse_csaf(obj: dict, origin: str) -> list[dict]:
    prods: dict[str, str] = {}

    def fpn(p: dict) -> None:
        h = p.get("product_identification_helper") or {}
        pid = p.get("product_id")
        if pid:
            prods[pid] = _key_for(h.get("purl"), None) or _key_for(None, p.get("name")) or pid

    def branches(bs, trail):
        for b in bs or []:
            t = trail + [b.get("name", "")]
            if b.get("product"):
                p = dict(b["product"])
                if b.get("category") == "product_version" and len(t) >= 2 and not (p.get("product_identification_helper") or {}).get("purl"):
                    p["name"] = t[-2]  # product name without the version
                fpn(p)
            branches(b.get("branches"), t)

    tree = obj.get("product_tree") or {}
    for p in tree.get("full_product_names") or []:
        fpn(p)
    branches(tree.get("branches"), [])
    for r in tree.get("relationships") or []:
        p = r.get("full_product_name") or {}
        if p.get("product_id") and r.get("product_reference") in prods:
            prods[p["product_id"]] = prods[r["product_reference"]]
    out = []
    for v in obj.get("vulnerabilities") or []:
        vid = v.get("cve") or ((v.get("ids") or [{}])[0].get("text"))
        if not vid:
            continue
        flags = {pid: f.get("label") for f in v.get("flags") or [] for pid in f.get("product_ids") or []}
        impacts = {pid: t.get("details") for t in v.get("threats") or [] if t.get("category") == "impact"
                   for pid in t.get("product_ids") or []}
        ps = v.get("product_status") or {}
        for field, state in (("known_not_affected", "not_affected"), ("known_affected", "affected"),
                             ("fixed", "fixed"), ("under_investigation", "under_investigation")):
            for pid in ps.get(field) or []:
                out.append({"vuln_id": vid, "product": prods.get(pid, f"name:{pid.lower()}"), "state": state,
                            "justification": CSAF_TO_CDX.get(flags.get(pid) or ""), "detail": impacts.get(pid),
                            "origin": origin})
    return out


MAX_VEX_BYTES = 64 << 20  # one --vex file, decompressed; real VEX documents are kilobytes to a few MiB
MAX_VEX_DEPTH = 64  # JSON nesting; CSAF product trees are the deepest real ones (about 10)
_STMT_TYPES = {"vuln_id": (str,), "product": (str,), "state": (str,), "justification": (str, type(None)),
               "detail": (str, type(None))}


def _read_bounded(p: Path) -> bytes:
    """The file's bytes, gunzipped when gzip, refusing more than MAX_VEX_BYTES (a gzip bomb stops there)."""
    import gzip

    with open(p, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(p, "rb") if gz else open(p, "rb")) as fh:
        data = fh.read(MAX_VEX_BYTES + 1)
    if len(data) > MAX_VEX_BYTES:
        raise ValueError(f"larger than {MAX_VEX_BYTES >> 20} MiB" + (" once decompressed" if gz else ""))
    return data


def _depth_ok(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return False
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return True


def check_vex_file(p: Path) -> list[dict]:
    """Triage statements of one --vex file, or ValueError with an English reason: bounded size
    (gzip included), JSON, bounded nesting, one of the three VEX formats, and every statement of the
    expected types.  Nothing of a file that fails is used."""
    import sys

    data = _read_bounded(p)
    # the C JSON decoder recurses per nesting level: a document deeper than the interpreter's stack
    # is refused (RecursionError) before the depth walk below
    try:
        obj = json.loads(data)
    except RecursionError:
        raise ValueError(f"nested deeper than {sys.getrecursionlimit()} levels") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"not JSON ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"a JSON {type(obj).__name__}, not a VEX document")
    if not _depth_ok(obj, MAX_VEX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_VEX_DEPTH} levels")
    fmt = ("cyclonedx" if obj.get("bomFormat") == "CycloneDX" else
           "openvex" if str(obj.get("@context", "")).startswith("https://openvex.dev") else
           "csaf" if isinstance(obj.get("document"), dict) else None)
    if fmt is None:
        raise ValueError("not CycloneDX VEX, OpenVEX or CSAF VEX")
    bad = _shape(fmt, obj)
    if bad:
        raise ValueError(f"not a valid {fmt} VEX document ({bad})")
    try:
        stmts = parse_triage(obj, str(p))
    except (AttributeError, TypeError, KeyError, IndexError) as e:
        raise ValueError(f"not a valid {fmt} VEX document (a field has the wrong type: {type(e).__name__})") from None
    for st in stmts:
        for k, types in _STMT_TYPES.items():
            if not isinstance(st.get(k), types):
                raise ValueError(f"not a valid {fmt} VEX document ('{k}' of {str(st.get('vuln_id'))[:40]} "
                                 f"is a {type(st.get(k)).__name__})")
    return stmts


def _list_of(v: Any, t: type | tuple, optional: bool = True) -> bool:
    return (v is None and optional) or (isinstance(v, list) and all(isinstance(x, t) for x in v))


def _shape(fmt: str, obj: dict) -> str | None:
    """The fields parse_triage reads, with their JSON types (English reason, or None).  A field of the
    wrong type is refused rather than read as absent: a triage file that silently says nothing would
    leave every vulnerability open without telling the user why."""
    if fmt == "cyclonedx":
        vs = obj.get("vulnerabilities")
        if not _list_of(vs, dict):
            return "'vulnerabilities' is not a list of objects"
        for v in vs or []:
            if not isinstance(v.get("id"), str):
                return "a vulnerability 'id' is not a string"
            if not isinstance(v.get("analysis", {}), dict) or not isinstance((v.get("analysis") or {}).get("state", ""), str):
                return f"'analysis' of {v['id'][:40]} is not an object with a string state"
            if not _list_of(v.get("affects"), dict) or any(not isinstance(a.get("ref", ""), str) for a in v.get("affects") or []):
                return f"'affects' of {v['id'][:40]} is not a list of objects with string refs"
        if not _list_of(obj.get("components"), dict):
            return "'components' is not a list of objects"
    elif fmt == "openvex":
        sts = obj.get("statements")
        if not _list_of(sts, dict, optional=False):
            return "'statements' is not a list of objects"
        for st in sts:
            vul = st.get("vulnerability")
            if not (isinstance(vul, str) or (isinstance(vul, dict) and isinstance(vul.get("name"), str))):
                return "a statement's 'vulnerability' is neither a string nor an object with a name"
            if not isinstance(st.get("status"), str) or not _list_of(st.get("products"), (str, dict)):
                return "a statement's 'status' or 'products' has the wrong type"
    elif fmt == "csaf":
        vs = obj.get("vulnerabilities")
        if not _list_of(vs, dict):
            return "'vulnerabilities' is not a list of objects"
        for v in vs or []:
            ps = v.get("product_status") or {}
            if not isinstance(ps, dict) or any(not _list_of(x, str) for x in ps.values()):
                return "'product_status' is not an object of product id lists"
        if not isinstance(obj.get("product_tree", {}), dict):
            return "'product_tree' is not an object"
    return None


def load_triage_files(paths: list[Path]) -> list[dict]:
    """Triage statements from files given with `--vex` (applied at scan time, not stored).  The CLI
    calls this before the scan starts, so a bad file exits 2 with one line and OUT is untouched."""
    from firmpass.errors import FirmpassError

    out = []
    for p in paths:
        try:
            out.extend(check_vex_file(Path(p)))
        except (OSError, ValueError, EOFError, zlib.error) as e:
            detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise FirmpassError("vulns.err.bad_vex", path=str(p), detail=detail) from None
    return out


# ------------------------------------------------------------------------------------ export
def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _detail_str(t: Text | None) -> str | None:
    if t is None:
        return None
    return t.en if t.en == t.zh else f"{t.en} / {t.zh}"


def _pid(ref: str) -> str:
    return "CSAFPID-" + re.sub(r"[^A-Za-z0-9._-]+", "-", ref)[:120]


def to_cyclonedx_vex(result: ScanResult) -> dict:
    comps = {c.bom_ref: c for c in result.components}
    used = sorted({v.component for v in result.vulnerabilities})
    out_comps = []
    for ref in used:
        c = comps.get(ref)
        d: dict[str, Any] = {"type": c.type if c else "application", "bom-ref": ref,
                             "name": c.name if c else ref}
        if c and c.version:
            d["version"] = c.version
        if c and c.purl:
            d["purl"] = c.purl
        if c and c.cpe:
            d["cpe"] = c.cpe
        out_comps.append(d)
    vulns = []
    for v in result.vulnerabilities:
        d: dict[str, Any] = {"bom-ref": f"{v.id}@{v.component}", "id": v.id,
                             "source": {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{v.id}"}
                             if v.id.startswith("CVE-") else {"name": str(v.match.get("source", "firmpass"))}}
        ratings = []
        for s in v.cvss:
            method = {"2.0": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}.get(s.version, "other")
            r = {"score": s.base_score, "method": method, "vector": s.vector}
            if s.severity in ("critical", "high", "medium", "low", "info", "none"):
                r["severity"] = s.severity
            ratings.append(r)
        for vs_ in v.vendor_severity:  # the vendor's own qualitative rating: no score, method "other"
            ratings.append({"source": {"name": str(vs_.get("source"))}, "severity": vs_.get("severity"),
                            "method": "other"})
        if ratings:
            d["ratings"] = ratings
        cwes = sorted({int(c["id"][4:]) for c in v.cwes if str(c.get("id", "")).upper().startswith("CWE-")
                       and str(c["id"])[4:].isdigit()})
        if cwes:
            d["cwes"] = cwes
        if v.description:
            d["description"] = v.description
        if v.published:
            d["published"] = _iso(v.published)
        an: dict[str, Any] = {"state": STATE_TO_CDX[v.vex.state]}
        if v.vex.state == "not_affected" and v.vex.justification:
            an["justification"] = v.vex.justification
        det = _detail_str(v.vex.detail)
        if det:
            an["detail"] = det
        d["analysis"] = an
        d["affects"] = [{"ref": v.component}]
        props = [{"name": "firmpass:match", "value": json.dumps(v.match, ensure_ascii=False, sort_keys=True)}]
        if v.kev:
            props.append({"name": "firmpass:kev", "value": json.dumps(v.kev, sort_keys=True)})
        if v.is_exploited:
            props.append({"name": "firmpass:exploited", "value": json.dumps(v.exploitation(), sort_keys=True)})
        if v.epss:
            props.append({"name": "firmpass:epss", "value": json.dumps(v.epss, sort_keys=True)})
        d["properties"] = props
        vulns.append(d)
    return {"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
            "metadata": {"timestamp": _now(), "tools": {"components": [{"type": "application", "name": "firmpass",
                                                                          "version": __version__}]},
                         "component": {"type": "firmware", "bom-ref": "firmware-image", "name": result.image.name,
                                       "hashes": [{"alg": "SHA-256", "content": result.image.sha256}]}},
            "components": out_comps, "vulnerabilities": vulns}


def _iso(s: str) -> str:
    s = s.strip()
    if len(s) == 10:
        return s + "T00:00:00Z"
    if re.search(r"(Z|[+-]\d\d:\d\d)$", s):
        return s
    return s.split(".")[0] + "Z"


def _upper_bound(rng: str) -> tuple[str, str] | None:
    """('<', '8.4.0') or ('<=', '8.3.0') from a range such as '>= 7.69.0, <= 8.3.0'."""
    m = re.search(r"(<=?)\s*([0-9A-Za-z][^,\s]*)", rng or "")
    return (m.group(1), m.group(2)) if m else None


def remediation_for(v: Vulnerability, det: str | None, pid: str) -> dict[str, Any]:
    """CSAF remediation: vendor_fix when a fixed upstream version is known from the matched range (the
    details say which), none_available only when no fix is known (and then never 'Update ...')."""
    bound = _upper_bound(str(v.match.get("range") or ""))
    if bound:
        op, ver = bound
        text = (f"Update {v.component_name} to {ver} or later." if op == "<" else
                f"Update {v.component_name} to a release later than {ver}.")
        return {"category": "vendor_fix", "details": text, "product_ids": [pid]}
    return {"category": "none_available",
            "details": det or f"No fixed version of {v.component_name} is known to firmpass; follow the supplier's advisory.",
            "product_ids": [pid]}


def not_decisive(v: Vulnerability, comp: Component | None) -> str | None:
    """Why a version match is not enough to assert known_affected, or None when it is decisive.
    A distribution package whose revision the distribution's tracker did not rule on may carry a
    back-ported fix (upstream ranges say nothing about it); a weakly identified component or a match
    without a version is a lead, not a finding."""
    if comp is None:
        return "the component behind this match is not in the inventory"
    props = comp.properties or {}
    if (comp.purl or "").startswith("pkg:deb/") or props.get("distro"):
        rev = props.get("package_version") or comp.version
        return (f"{comp.name} is a Debian package (revision {rev}); the upstream range matches, but the Debian security "
                f"tracker data in the vulnerability store does not show whether this revision carries the fix, and "
                f"Debian back-ports fixes. Check the tracker or the package changelog.")
    if not v.component_version:
        return "the component's version is unknown: the match is by name only"
    if comp.confidence < 0.7:
        return f"{comp.name} was identified with low confidence ({comp.confidence:.2f})"
    return None


def to_csaf(result: ScanResult, profile: dict | None) -> dict:
    profile = profile or {}
    man = profile.get("manufacturer") or {}
    prod = profile.get("product") or {}
    vendor = man.get("name") or "Unknown manufacturer"
    pname = prod.get("name") or prod.get("model") or result.image.name
    fw_ver = str(prod.get("firmware_version") or result.image.sha256[:12])
    fw_id = "CSAFPID-FIRMWARE"
    ns = man.get("website") or "https://example.invalid"
    if not re.match(r"^https?://", ns):
        ns = "https://" + ns
    comps = {c.bom_ref: c for c in result.components}
    tree = _csaf_product_tree(result, comps, vendor, pname, fw_ver, fw_id)
    by_id: dict[str, list[Vulnerability]] = {}
    for v in result.vulnerabilities:
        by_id.setdefault(v.id, []).append(v)
    vulns = [_csaf_vulnerability(vid, vs, comps) for vid, vs in by_id.items()]
    now = _now()
    doc_id = f"firmpass-{result.image.sha256[:16]}"
    doc: dict[str, Any] = {
        "document": {
            "category": "csaf_vex", "csaf_version": "2.0",
            "title": f"VEX for {vendor} {pname} {fw_ver}",
            "publisher": {"category": "vendor", "name": vendor, "namespace": ns},
            # a draft: firmpass generated it and nobody has reviewed it yet (CSAF 6.1.17: a draft's version is 0)
            "tracking": {"id": doc_id, "status": "draft", "version": "0", "initial_release_date": now,
                         "current_release_date": now,
                         "revision_history": [{"date": now, "number": "0",
                                               "summary": "Draft generated by firmpass; to be reviewed by the manufacturer's PSIRT"}],
                         "generator": {"engine": {"name": "firmpass", "version": __version__}, "date": now}},
            "distribution": {"tlp": {"label": "WHITE"}},
            "notes": [{"category": "summary", "title": "Scope",
                       "text": f"Vulnerability status of the components found in firmware image {result.image.name} "
                               f"(SHA-256 {result.image.sha256})."}],
        },
        "product_tree": tree,
    }
    if vulns:
        doc["vulnerabilities"] = vulns
    return doc


def _csaf_product_tree(result: ScanResult, comps: dict, vendor: str, pname: str, fw_ver: str, fw_id: str) -> dict:
    """The CSAF product tree: the firmware (vendor > product > version) and each affected component in it."""
    used = sorted({v.component for v in result.vulnerabilities})
    full_names, rels = [], []
    for ref in used:
        c = comps.get(ref)
        name = f"{c.name} {c.version}" if c and c.version else (c.name if c else ref)
        p: dict[str, Any] = {"name": name, "product_id": _pid(ref)}
        helper = {}
        if c and c.purl:
            helper["purl"] = c.purl
        if c and c.cpe:
            helper["cpe"] = c.cpe
        if helper:
            p["product_identification_helper"] = helper
        full_names.append(p)
        rels.append({"category": "default_component_of",
                     "full_product_name": {"name": f"{name} in {pname} {fw_ver}", "product_id": _pid(ref) + ":FW"},
                     "product_reference": _pid(ref), "relates_to_product_reference": fw_id})
    tree: dict[str, Any] = {"branches": [{"category": "vendor", "name": vendor, "branches": [
        {"category": "product_name", "name": pname, "branches": [
            {"category": "product_version", "name": fw_ver,
             "product": {"name": f"{vendor} {pname} {fw_ver}", "product_id": fw_id,
                         "product_identification_helper": {"hashes": [{"file_hashes": [
                             {"algorithm": "sha256", "value": result.image.sha256}], "filename": result.image.name}]}}}]}]}]}
    if full_names:
        tree["full_product_names"] = full_names
        tree["relationships"] = rels
    return tree


def _csaf_vulnerability(vid: str, vs: list[Vulnerability], comps: dict) -> dict:
    """One CSAF vulnerability entry: the status of every component it was matched on, with notes and scores."""
    d: dict[str, Any] = {}
    if re.match(r"^CVE-[0-9]{4}-[0-9]{4,}$", vid):
        d["cve"] = vid
    else:
        d["ids"] = [{"system_name": str(vs[0].match.get("source", "OSV")), "text": vid}]
    if vs[0].description:
        d["notes"] = [{"category": "description", "text": vs[0].description, "title": "Description"}]
    status: dict[str, list[str]] = {}
    flags: dict[str, list[str]] = {}
    threats, remediations, scores = [], [], []
    for v in vs:
        pid = _pid(v.component) + ":FW"
        state = v.vex.state
        ruled = v.match.get("ruled_out_by") if isinstance(v.match.get("ruled_out_by"), dict) else {}
        undecided = None
        if state == "not_affected" and ruled.get("rule") == "distro_fix" and str(ruled.get("fixed_version")) != "0":
            state = "fixed"  # the installed distro revision carries the fix (vulns.ruleout.distro_fixed)
        elif state == "affected" and v.vex.source == "firmpass":
            undecided = not_decisive(v, comps.get(v.component))
            if undecided:
                state = "under_investigation"
        field = {"affected": "known_affected", "not_affected": "known_not_affected", "fixed": "fixed",
                 "under_investigation": "under_investigation"}[state]
        status.setdefault(field, []).append(pid)
        det = _detail_str(v.vex.detail)
        if undecided:
            d.setdefault("notes", []).append({"category": "details", "title": f"Why under investigation ({v.component_name})",
                                              "text": undecided})
        elif state == "fixed" and det:
            d.setdefault("notes", []).append({"category": "details", "title": f"Fixed in the installed revision ({v.component_name})",
                                              "text": det})
        if state == "not_affected":
            label = CDX_TO_CSAF.get(v.vex.justification or "")
            if label:
                flags.setdefault(label, []).append(pid)
            threats.append({"category": "impact", "details": det or "not affected", "product_ids": [pid]})
        elif state == "affected":
            remediations.append(remediation_for(v, det, pid))
        for s in v.cvss:
            if s.version in ("3.0", "3.1") and s.severity in ("none", "low", "medium", "high", "critical"):
                scores.append({"products": [pid], "cvss_v3": {"version": s.version, "vectorString": s.vector,
                                                              "baseScore": s.base_score,
                                                              "baseSeverity": s.severity.upper()}})
                break
    d["product_status"] = {k: sorted(set(x)) for k, x in status.items()}
    if flags:
        d["flags"] = [{"label": k, "product_ids": sorted(set(x))} for k, x in flags.items()]
    if threats:
        d["threats"] = threats
    if remediations:
        d["remediations"] = remediations
    if scores:
        d["scores"] = scores
    for e in vs[0].exploitation():
        what = {"cisa-kev": "Listed in CISA Known Exploited Vulnerabilities",
                "euvd": f"Marked exploited in the ENISA EU Vulnerability Database ({e.get('ref') or vid})"}.get(
            e["source"], f"Reported exploited by {e['source']}")
        d.setdefault("notes", []).append({"category": "other", "title": exploit_source_name(e["source"]),
                                          "text": f"{what} since {e.get('since') or 'an unknown date'}"})
    cwe = next((c for c in vs[0].cwes if c.get("id") and c.get("name")), None)
    if cwe:  # CSAF 2.0 holds one CWE, with its name
        d["cwe"] = {"id": cwe["id"], "name": cwe["name"]}
    refs = [r for r in vs[0].references if re.match(r"^https?://", r)][:10]
    if refs:
        d["references"] = [{"category": "external", "summary": "Reference", "url": r} for r in refs]
    return d


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT7

    base = resources.files("firmpass.vulns").joinpath("schemas")
    load = lambda n: json.loads(base.joinpath(n).read_text(encoding="utf-8"))  # noqa: E731
    reg = Registry().with_resources([
        ("https://www.first.org/cvss/cvss-v2.0.json", Resource(load("cvss-v2.0.json"), DRAFT4)),
        ("https://www.first.org/cvss/cvss-v3.0.json", Resource(load("cvss-v3.0.json"), DRAFT7)),
        ("https://www.first.org/cvss/cvss-v3.1.json", Resource(load("cvss-v3.1.json"), DRAFT7)),
    ])
    schema = load("csaf_json_schema.json")
    from jsonschema import FormatChecker
    return Draft202012Validator(schema, registry=reg, format_checker=FormatChecker())


def validate_csaf(doc: dict) -> list[str]:
    """Errors of `doc` against the CSAF 2.0 JSON schema (vendored), plus the csaf_vex profile's
    required sections; an empty list means valid."""
    errs = [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    d = doc.get("document") or {}
    if d.get("category") == "csaf_vex":  # CSAF 2.0 section 4.5 (profile 5: VEX)
        if not doc.get("product_tree"):
            errs.append("product_tree: required by the csaf_vex profile")
        for i, v in enumerate(doc.get("vulnerabilities") or []):
            if not v.get("cve") and not v.get("ids"):
                errs.append(f"vulnerabilities/{i}: cve or ids required by the csaf_vex profile")
            ps = v.get("product_status") or {}
            if not any(ps.get(k) for k in ("fixed", "known_affected", "known_not_affected", "under_investigation")):
                errs.append(f"vulnerabilities/{i}/product_status: one status required by the csaf_vex profile")
            na = set(ps.get("known_not_affected") or [])
            covered = {p for f in v.get("flags") or [] for p in f.get("product_ids") or []} | \
                      {p for t in v.get("threats") or [] if t.get("category") == "impact" for p in t.get("product_ids") or []}
            if na - covered:
                errs.append(f"vulnerabilities/{i}: known_not_affected products need a flag or impact statement")
            ka = set(ps.get("known_affected") or [])
            rem = {p for r in v.get("remediations") or [] for p in r.get("product_ids") or []}
            if ka - rem:
                errs.append(f"vulnerabilities/{i}: known_affected products need a remediation")
    return errs
