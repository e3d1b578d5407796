"""OUT/components.csv and OUT/vulnerabilities.csv: the long tables the PDF leaves out, for a spreadsheet.

One row per component (sorted by name) and per vulnerability (in the report's order: exploited first,
then severity, CVSS, EPSS).  UTF-8 with a byte-order mark so spreadsheet programs read Chinese and
other non-ASCII names right; every cell that a spreadsheet would take for a formula is quoted with a
leading apostrophe (component names and versions come from the image: hostile text).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from firmpass.model import ScanResult, exploit_source_name
from firmpass.report.view import _cvss_best, vuln_key

COMPONENT_COLUMNS = ["name", "version", "type", "supplier", "purl", "cpe", "confidence", "methods", "bom_ref"]
VULN_COLUMNS = ["id", "component", "component_version", "severity", "severity_basis", "cvss", "cvss_version",
                "cvss_vector", "epss", "epss_percentile", "exploited", "cwes", "vex_state", "vex_justification",
                "component_ref"]


def _cell(v: object) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows([_cell(x) for x in row] for row in rows)
    return buf.getvalue()


def components_csv(result: ScanResult) -> str:
    comps = sorted(result.components, key=lambda c: (c.name.lower(), c.version or ""))
    return _csv(COMPONENT_COLUMNS, [
        [c.name, c.version or "", c.type, c.supplier or "", c.purl or "", c.cpe or "", f"{c.confidence:.2f}",
         ";".join(sorted({e.method for e in c.evidence})), c.bom_ref] for c in comps])


def vulnerabilities_csv(result: ScanResult) -> str:
    rows = []
    for v in sorted(result.vulnerabilities, key=vuln_key):
        score, ver, vector = _cvss_best(v)
        epss = v.epss or {}
        rows.append([v.id, v.component_name, v.component_version or "", v.severity or "", v.severity_basis or "",
                     "" if score is None else f"{score:.1f}", ver or "", vector or "",
                     "" if epss.get("score") is None else epss.get("score"),
                     "" if epss.get("percentile") is None else epss.get("percentile"),
                     ";".join(f"{exploit_source_name(str(e['source']))}{' ' + str(e['since']) if e.get('since') else ''}"
                              for e in v.exploitation()),
                     ";".join(str(c.get("id")) for c in v.cwes), v.vex.state, v.vex.justification or "", v.component])
    return _csv(VULN_COLUMNS, rows)


def write_tables(out: Path, result: ScanResult) -> dict[str, Path]:
    written = {}
    for key, name, text in (("components_csv", "components.csv", components_csv(result)),
                            ("vulnerabilities_csv", "vulnerabilities.csv", vulnerabilities_csv(result))):
        path = out / name
        tmp = path.with_name(name + ".tmp")
        tmp.write_text(text, encoding="utf-8-sig")
        os.replace(tmp, path)
        written[key] = path
    return written
