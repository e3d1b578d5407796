"""The rule every evidence detail of a finding must meet: a Chinese text exists and is Chinese.

A detail's zh is accepted when it holds CJK characters, or when it is a pure technical token: no
word of three or more ASCII letters outside TOKENS (e.g. "secure_mode", "setuid").  Anything else,
such as an English phrase copied into zh or an empty zh, is a missing translation.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"[A-Za-z]{3,}")
# technical tokens that read the same in Chinese text (scheme names, key kinds, config keys, mode bits)
TOKENS = {"md5crypt", "md5_crypt", "des_crypt", "sha512_crypt", "bcrypt", "yescrypt", "ssh", "rsa", "ecdsa",
          "ed25519", "pem", "pkcs", "secure_mode", "setuid", "setgid", "nx", "pie", "relro"}


def _words(s: str) -> list[str]:
    # split on anything but letters, digits and underscores so config keys stay whole
    return [t for t in re.split(r"[^A-Za-z0-9_]+", s) if WORD.search(t)]


def is_translated(zh: str) -> bool:
    if not zh or not zh.strip():
        return False
    if CJK.search(zh):
        return True
    return all(w.lower() in TOKENS for w in _words(zh))


def _get(x: Any, k: str) -> Any:
    return x.get(k) if isinstance(x, dict) else getattr(x, k)


def untranslated_details(findings: Iterable[Any]) -> list[str]:
    """`finding id: detail` for every evidence detail without a usable Chinese text (findings as models or
    as findings.json dicts)."""
    bad = []
    for f in findings:
        for e in _get(f, "evidence") or []:
            d = _get(e, "detail")
            if d is None:
                continue
            if isinstance(d, str):  # written as a plain string: English only
                bad.append(f"{_get(f, 'id')}: plain string {d!r}")
                continue
            en, zh = _get(d, "en"), _get(d, "zh")
            if not en or not is_translated(zh):
                bad.append(f"{_get(f, 'id')}: en={en!r} zh={zh!r}")
    return bad
