"""`firmpass sbom check`: which BSI TR-03183-2 and NTIA minimum-element fields an SBOM lacks.

Works on any CycloneDX (JSON, 1.4+) or SPDX 2.x JSON file, ours or a supplier's.  A field stated as
unknown (SPDX NOASSERTION, or a CycloneDX firmpass:* = NOASSERTION property, "known unknowns" in NTIA's
terms) is counted as `unknown`, not as missing: the SBOM says it does not know, which both documents
accept; a field that is simply absent is `missing`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from firmpass.errors import UnusableInput
from firmpass.i18n import msg

NOASSERTION = "NOASSERTION"
PRESENT, UNKNOWN, MISSING, NA = "present", "unknown", "missing", "n/a"

# id, scope, status, i18n key suffix
FIELDS = [
    ("BSI-SBOM-creator", "sbom", "required"),
    ("BSI-SBOM-timestamp", "sbom", "required"),
    ("BSI-SBOM-uri", "sbom", "if-exists"),
    ("NTIA-author", "sbom", "required"),
    ("NTIA-timestamp", "sbom", "required"),
    ("NTIA-unknowns", "sbom", "practice"),
    ("BSI-C-creator", "component", "required"),
    ("NTIA-supplier", "component", "required"),
    ("BSI-C-name", "component", "required"),
    ("BSI-C-version", "component", "required"),
    ("BSI-C-filename", "component", "required"),
    ("BSI-C-deps", "component", "required"),
    ("BSI-C-licence", "component", "required"),
    ("BSI-C-hash", "component", "required"),
    ("BSI-C-exec", "component", "required"),
    ("BSI-C-archive", "component", "required"),
    ("BSI-C-struct", "component", "required"),
    ("BSI-C-ids", "component", "if-exists"),
]


def load(path: Path) -> dict:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UnusableInput("sbom.unreadable", path=str(path), detail=e.strerror or str(e)) from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnusableInput("sbom.unreadable", path=str(path), detail=f"not JSON: {e}") from None
    if not isinstance(doc, dict) or not (doc.get("bomFormat") == "CycloneDX" or "spdxVersion" in doc):
        raise UnusableInput("sbom.not_sbom", path=str(path))
    return doc


# ------------------------------------------------------------------------------------------ CycloneDX
def _cdx_props(c: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in c.get("properties") or []:
        if isinstance(p, dict) and p.get("name"):
            out.setdefault(p["name"], []).append(str(p.get("value", "")))
    return out


def _cdx_checks(doc: dict) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]], list[str]]:
    meta = doc.get("metadata") or {}
    sb: dict[str, str] = {}
    tools = meta.get("tools")
    has_tools = bool(tools.get("components") or tools.get("services")) if isinstance(tools, dict) else bool(tools)
    creator = bool(meta.get("authors") or meta.get("manufacturer") or meta.get("supplier") or meta.get("manufacture"))
    sb["BSI-SBOM-creator"] = PRESENT if creator else MISSING
    sb["NTIA-author"] = PRESENT if (creator or has_tools) else MISSING
    sb["BSI-SBOM-timestamp"] = sb["NTIA-timestamp"] = PRESENT if meta.get("timestamp") else MISSING
    sb["BSI-SBOM-uri"] = PRESENT if doc.get("serialNumber") else MISSING
    sb["NTIA-unknowns"] = PRESENT if doc.get("compositions") else MISSING
    dep_refs = {d.get("ref") for d in doc.get("dependencies") or [] if isinstance(d, dict)}
    comps: list[tuple[str, dict[str, str]]] = []

    def walk(cs):
        for c in cs or []:
            if isinstance(c, dict):
                yield c
                yield from walk(c.get("components"))

    all_c = ([meta["component"]] if isinstance(meta.get("component"), dict) else []) + list(walk(doc.get("components")))
    for c in all_c:
        p = _cdx_props(c)
        r: dict[str, str] = {}
        sup = (c.get("supplier") or {}).get("name") or (c.get("manufacturer") or {}).get("name") \
            or c.get("publisher") or c.get("author") or (c.get("authors") or [{}])[0].get("name")
        if sup == NOASSERTION or (not sup and p.get("firmpass:supplier") == [NOASSERTION]):
            r["BSI-C-creator"] = r["NTIA-supplier"] = UNKNOWN
        else:
            r["BSI-C-creator"] = r["NTIA-supplier"] = PRESENT if sup else MISSING
        r["BSI-C-name"] = PRESENT if c.get("name") else MISSING
        v = c.get("version")
        r["BSI-C-version"] = UNKNOWN if v == NOASSERTION else (PRESENT if v else MISSING)
        r["BSI-C-filename"] = PRESENT if p.get("bsi:component:filename") else MISSING
        r["BSI-C-deps"] = PRESENT if c.get("bom-ref") in dep_refs else MISSING
        lic = c.get("licenses")
        r["BSI-C-licence"] = PRESENT if lic else (UNKNOWN if p.get("firmpass:license") == [NOASSERTION] else MISSING)
        algs = {h.get("alg") for h in c.get("hashes") or [] if isinstance(h, dict)}
        r["BSI-C-hash"] = PRESENT if "SHA-512" in algs else MISSING
        for fid, key in (("BSI-C-exec", "executable"), ("BSI-C-archive", "archive"), ("BSI-C-struct", "structured")):
            r[fid] = PRESENT if len(p.get(f"bsi:component:{key}", [])) == 1 else MISSING
        r["BSI-C-ids"] = PRESENT if (c.get("purl") or c.get("cpe") or c.get("swid")) else MISSING
        comps.append((f"{c.get('name')}@{c.get('version')}", r))
    notes = []
    if doc.get("vulnerabilities"):
        notes.append("vulns_in_sbom")
    return sb, comps, notes


# ------------------------------------------------------------------------------------------ SPDX
def _spdx_checks(doc: dict) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]], list[str]]:
    ci = doc.get("creationInfo") or {}
    creators = ci.get("creators") or []
    sb: dict[str, str] = {}
    sb["BSI-SBOM-creator"] = PRESENT if any(str(c).startswith(("Organization:", "Person:")) for c in creators) \
        else (UNKNOWN if creators else MISSING)
    sb["NTIA-author"] = PRESENT if creators else MISSING
    sb["BSI-SBOM-timestamp"] = sb["NTIA-timestamp"] = PRESENT if ci.get("created") else MISSING
    sb["BSI-SBOM-uri"] = PRESENT if doc.get("documentNamespace") else MISSING
    sb["NTIA-unknowns"] = PRESENT if ci.get("comment") or ci.get("creatorComment") else UNKNOWN
    rels = doc.get("relationships") or []
    in_rel = {x.get("spdxElementId") for x in rels} | {x.get("relatedSpdxElement") for x in rels}
    comps = []
    for pk in doc.get("packages") or []:
        r: dict[str, str] = {}
        sup = pk.get("supplier") or pk.get("originator")
        r["BSI-C-creator"] = r["NTIA-supplier"] = UNKNOWN if sup == NOASSERTION else (PRESENT if sup else MISSING)
        r["BSI-C-name"] = PRESENT if pk.get("name") else MISSING
        v = pk.get("versionInfo")
        r["BSI-C-version"] = UNKNOWN if v == NOASSERTION else (PRESENT if v else MISSING)
        r["BSI-C-filename"] = PRESENT if pk.get("packageFileName") else MISSING
        r["BSI-C-deps"] = PRESENT if pk.get("SPDXID") in in_rel else MISSING
        lic = pk.get("licenseDeclared") or pk.get("licenseConcluded")
        r["BSI-C-licence"] = UNKNOWN if lic in (NOASSERTION, "NONE") else (PRESENT if lic else MISSING)
        algs = {c.get("algorithm") for c in pk.get("checksums") or [] if isinstance(c, dict)}
        r["BSI-C-hash"] = PRESENT if "SHA512" in algs else MISSING
        for fid in ("BSI-C-exec", "BSI-C-archive", "BSI-C-struct"):
            r[fid] = NA  # SPDX 2.x has no field for these BSI properties
        refs = {x.get("referenceType") for x in pk.get("externalRefs") or [] if isinstance(x, dict)}
        r["BSI-C-ids"] = PRESENT if refs & {"purl", "cpe23Type", "cpe22Type", "swid"} else MISSING
        comps.append((f"{pk.get('name')}@{pk.get('versionInfo')}", r))
    notes = ["spdx2_bsi_props"]
    if str(doc.get("spdxVersion", "")).startswith("SPDX-2"):
        notes.append("spdx2_tr21")
    return sb, comps, notes


def check_doc(doc: dict) -> dict[str, Any]:
    is_cdx = doc.get("bomFormat") == "CycloneDX"
    fmt = f"CycloneDX {doc.get('specVersion', '?')}" if is_cdx else str(doc.get("spdxVersion", "SPDX"))
    sb, comps, notes = (_cdx_checks if is_cdx else _spdx_checks)(doc)
    fields = []
    for fid, scope, status in FIELDS:
        title = msg(f"sbom.field.{fid}")
        if scope == "sbom":
            st = sb.get(fid, NA)
            fields.append({"id": fid, "scope": scope, "status": status, "title": title.model_dump(),
                           "state": st, "missing": int(st == MISSING), "unknown": int(st == UNKNOWN), "examples": []})
        else:
            miss = [n for n, r in comps if r.get(fid) == MISSING]
            unk = [n for n, r in comps if r.get(fid) == UNKNOWN]
            na = all(r.get(fid) == NA for _, r in comps) and comps
            state = NA if na else (MISSING if miss else (UNKNOWN if unk else PRESENT))
            fields.append({"id": fid, "scope": scope, "status": status, "title": title.model_dump(), "state": state,
                           "missing": len(miss), "unknown": len(unk), "examples": miss[:5]})
    missing = [f["id"] for f in fields if f["missing"] and f["status"] in ("required", "if-exists", "practice")]
    return {"format": fmt, "components": len(comps), "fields": fields, "missing": missing,
            "notes": [{"id": n, "text": msg(f"sbom.note.{n}").model_dump()} for n in notes]}


def check_sbom(path: Path) -> dict[str, Any]:
    """Report of the TR-03183-2 / NTIA fields missing from an SBOM file (CycloneDX or SPDX JSON)."""
    rep = check_doc(load(Path(path)))
    rep["file"] = str(path)
    return rep


FieldFilter = Callable[[dict], bool]
