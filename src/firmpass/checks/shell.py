"""Shell text read as commands, never run: POSIX sh split into simple commands with line numbers.

No shell parser library reads POSIX sh into commands with line numbers and tolerates the broken
vendor scripts firmware carries (bashlex wants bash and raises on much of it), so this small splitter
is our own.  The start-up graph (checks/startup.py) reads init scripts through it.
"""
from __future__ import annotations

import functools
import re
import shlex

ASSIGN = re.compile(r"^(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
CAT_FILE = re.compile(r"^(?:`|\$\()\s*cat\s+([^\s`)]+)\s*(?:`|\))$")


def split_commands(line: str) -> list[tuple[str, bool]]:
    """Simple commands of one shell line, each with whether it runs in the background (`&`).
    Splits on ; && || | & outside quotes and backquotes."""
    out, cur, q, i = [], [], None, 0
    while i < len(line):
        c = line[i]
        if q:
            cur.append(c)
            if c == q:
                q = None
            elif c == "\\" and q == '"' and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 1
        elif c in "'\"`":
            q = c
            cur.append(c)
        elif c == "\\" and i + 1 < len(line):
            cur.append(line[i:i + 2])
            i += 1
        elif c in ";|&":
            two = line[i:i + 2]
            bg = c == "&" and two != "&&" and (i == 0 or line[i - 1] not in ">&<")
            if c == "&" and not bg and two != "&&":
                cur.append(c)  # a redirection like 2>&1
                i += 1
                continue
            out.append(("".join(cur).strip(), bg))
            cur = []
            if two in ("&&", "||", ";;"):
                i += 1
        else:
            cur.append(c)
        i += 1
    out.append(("".join(cur).strip(), False))
    return [(c, bg) for c, bg in out if c]


def words(cmd: str) -> list[str]:
    """The words of one simple command, as the shell would split them (a copy: callers may change it)."""
    return list(_split_words(cmd))


@functools.lru_cache(maxsize=8192)
def _split_words(cmd: str) -> tuple[str, ...]:
    # cached: the walk meets the same commands once per init script that sources a shared library
    # script (OpenWrt's /etc/rc.common, /lib/functions.sh), and shlex costs ~0.1 ms a command
    try:
        return tuple(shlex.split(cmd, comments=False, posix=True))
    except ValueError:
        return tuple(cmd.split())


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with backslash continuations joined; comments dropped."""
    out, buf, first = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if not buf:
            first = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        out.append((first, buf + s))
        buf = ""
    if buf:
        out.append((first, buf))
    return out


def strip_keywords(c: str) -> str:
    """Drop shell keywords in front of a command (`then cmd`, `do cmd`, `else cmd`, `{ cmd`)."""
    while True:
        m = re.match(r"^(then|do|else|\{|\(|!)\s+", c)
        if not m:
            return c
        c = c[m.end():]
