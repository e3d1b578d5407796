"""VEX in: a user's triage as CycloneDX VEX, OpenVEX or CSAF VEX -> triage rows keyed by (vulnerability,
product without version), so a decision sticks across rescans and firmware versions; and the bounded,
type-checked reading of one --vex file."""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from firmpass.vulns.vex.common import CDX_TO_STATE, CSAF_TO_CDX, key_for


def parse_triage(obj: dict, origin: str) -> list[dict]:
    """Triage rows (vuln_id, product key, state, justification, detail, origin) of a CycloneDX VEX,
    OpenVEX or CSAF document; [] for anything else."""
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
            key = key_for(purl or ref if (purl or ref.startswith("pkg:")) else None, name or ref)
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
            key = next((key_for(i) for i in ids if i and str(i).startswith("pkg:")), None) or key_for(ident)
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
            prods[pid] = key_for(h.get("purl"), None) or key_for(None, p.get("name")) or pid

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
