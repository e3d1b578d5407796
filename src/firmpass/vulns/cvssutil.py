"""CVSS v2 / v3.x / v4 base scores computed from the vector with the `cvss` library."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=16384)
def score_vector(vector: str) -> tuple[str, float, str | None] | None:
    """-> (version, base_score, severity) or None when the vector does not parse."""
    from cvss import CVSS2, CVSS3, CVSS4

    v = vector.strip()
    try:
        if v.startswith("CVSS:4"):
            c = CVSS4(v)
            return "4.0", float(c.base_score), str(c.severity).lower()
        if v.startswith("CVSS:3"):
            c = CVSS3(v)
            return v[5:8], float(c.base_score), str(c.severities()[0]).lower()
        c = CVSS2(v.removeprefix("(").removesuffix(")"))
        b = float(c.base_score)
        return "2.0", b, severity_v2(b)
    except Exception:  # noqa: BLE001 - the library raises several types for bad vectors
        return None


def severity_v2(b: float) -> str:
    return "high" if b >= 7.0 else "medium" if b >= 4.0 else "low"


def severity_from_score(b: float) -> str:
    if b >= 9.0:
        return "critical"
    if b >= 7.0:
        return "high"
    if b >= 4.0:
        return "medium"
    if b > 0:
        return "low"
    return "info"


def make_score(vector: str, stated: float | None = None, source: str | None = None) -> dict | None:
    """A CvssScore dict; the base score is recomputed from the vector and a stated score that
    disagrees is kept as `stated_score` so a user can see the difference."""
    r = score_vector(vector)
    if r is None:
        if stated is None:
            return None
        ver = "3.1" if vector.startswith("CVSS:3.1") else "3.0" if vector.startswith("CVSS:3") else \
            "4.0" if vector.startswith("CVSS:4") else "2.0"
        return {"version": ver, "vector": vector, "base_score": float(stated), "severity": None, "source": source}
    ver, base, sev = r
    d = {"version": ver, "vector": vector, "base_score": base, "severity": sev, "source": source}
    if stated is not None and abs(float(stated) - base) > 0.05:
        d["stated_score"] = float(stated)
    return d
