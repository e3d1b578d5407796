"""Licence texts from package metadata (Debian copyright files, opkg / apk fields) as SPDX.

A Debian machine-readable copyright file names licences with DEP-5 short names: mostly SPDX ids in
another case (BSD-3-clause), GNU licences with a trailing '+' for "or later" (GPL-2+, GFDL-1.3+),
'Expat' for MIT, and names of its own (Wietse, public-domain).  A CycloneDX `license.id` must be an
SPDX id exactly as the SPDX list spells it and `expression` a valid SPDX expression, so each text is
sorted here into an SPDX id, an SPDX expression, or a plain licence name (anything not provably SPDX).
The id list and the case correction come from cyclonedx-python-lib (cyclonedx.spdx); the DEP-5 names
below are the ones DEP-5 defines differently from SPDX.
"""
from __future__ import annotations

import re
from functools import lru_cache

# DEP-5 "GPL-2+" / "LGPL-2.1" / "GFDL-1.3+": SPDX writes the version with a minor number and says
# -only / -or-later
_GNU = re.compile(r"^(GPL|LGPL|AGPL|GFDL|LGPLLR)-(\d)(?:\.(\d))?(\+)?$", re.I)
_DEP5 = {"expat": "MIT", "zlib": "Zlib", "python": "Python-2.0", "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later"}
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@lru_cache(maxsize=1024)
def spdx_id(name: str) -> str | None:
    """The SPDX id a single licence name stands for, spelled as the SPDX list spells it, or None."""
    from cyclonedx.spdx import fixup_id

    n = name.strip()
    if not n:
        return None
    m = _GNU.match(n)
    if m:
        fam = m.group(1).upper()
        cand = f"{fam}-{m.group(2)}.{m.group(3) or 0}-{'or-later' if m.group(4) else 'only'}"
        return fixup_id(cand)
    if n.lower() in _DEP5 and " " not in _DEP5[n.lower()]:
        return _DEP5[n.lower()]
    return fixup_id(n)


@lru_cache(maxsize=1024)
def spdx_expression(text: str) -> str | None:
    """A valid SPDX expression for a licence text ('GPL-2+ or BSD-3-clause' -> 'GPL-2.0-or-later OR
    BSD-3-Clause'), or None when a part of it is not an SPDX licence."""
    from cyclonedx.spdx import is_expression

    out = []
    for tok in _TOKEN.findall(text.strip()):
        low = tok.lower()
        if tok in "()":
            out.append(tok)
        elif low in ("and", "or", "with"):
            out.append(low.upper())
        elif out and out[-1] == "WITH":
            out.append(tok)  # an exception id: checked by is_expression below
        else:
            sid = spdx_id(tok)
            if sid is None:
                dep5 = _DEP5.get(low)
                if dep5 is None:
                    return None
                sid = f"({dep5})"
            out.append(sid)
    expr = " ".join(out).replace("( ", "(").replace(" )", ")")
    return expr if expr and is_expression(expr) else None


def classify(text: str) -> tuple[str, str]:
    """('id', SPDX id) | ('expression', SPDX expression) | ('name', the text as given)."""
    sid = spdx_id(text)
    if sid is not None:
        return "id", sid
    expr = spdx_expression(text)
    if expr is not None:
        return "expression", expr
    return "name", text.strip()
