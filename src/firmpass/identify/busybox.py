"""BusyBox: the applets built into a binary, read from its applet name table.

BusyBox keeps the names of its applets as one sorted, NUL-separated table (applet_names[] in
applets.c); "[" and "[[" sort first when test is built in.  Only applets present in that table can
run, so a CVE in an applet that is not in it does not apply.
"""
from __future__ import annotations

import re

_NAME = re.compile(rb"^[a-z0-9_\[\]][a-z0-9_.\-\[\]]{0,31}$")


def applets(data: bytes, max_names: int = 1000) -> list[str]:
    starts = []
    i = data.find(b"[\x00[[\x00")
    if i >= 0:
        starts.append(i)
    if not starts:  # test not built in: the table still holds "busybox" among sorted names
        j = data.find(b"\x00busybox\x00")
        while j >= 0 and len(starts) < 4:
            k = j + 1  # start of "busybox"
            cur = b"busybox"
            for _ in range(max_names):
                if k < 2:
                    break
                p = data.rfind(b"\x00", 0, k - 1) + 1
                prev = data[p: k - 1]
                if not _NAME.match(prev) or prev >= cur:
                    break
                k, cur = p, prev
            starts.append(k)
            j = data.find(b"\x00busybox\x00", j + 1)
    best: list[str] = []
    for s in starts:
        names: list[str] = []
        pos = s
        while len(names) < max_names:
            e = data.find(b"\x00", pos)
            if e < 0:
                break
            tok = data[pos:e]
            if not _NAME.match(tok):
                break
            t = tok.decode()
            if names and t <= names[-1]:
                break
            names.append(t)
            pos = e + 1
        if len(names) > len(best):
            best = names
    return best if len(best) >= 3 else []
