"""The terminal consoles every command shares: no soft wrapping (one message stays one line, as
scripts and the tests expect) and no automatic highlighting of text taken from images.

Every string printed through them passes term_safe(): names and text from a firmware image are
hostile, and an ANSI escape, a carriage return or a newline in a member name could otherwise forge
a line ("scan finished"), clear the screen or retitle the terminal.  Rich itself only strips a few
control codes (BEL, BS, VT, FF, CR) and lets ESC through."""
from __future__ import annotations

import unicodedata

from rich.console import Console

# bidirectional overrides and isolates reorder what the reader sees (Trojan Source)
_BIDI = {0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}


def term_safe(text: str) -> str:
    """`text` with every control character shown as an escape (\\x1b, \\n, \\u202e) and every
    surrogate-escaped byte of a non-UTF-8 name shown as \\xNN; printable text (Chinese included) is
    unchanged.  Linear in the length of the text."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch == " " or (ch.isprintable() and o not in _BIDI):
            out.append(ch)
        elif o < 0x100:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{o:02x}"))
        elif unicodedata.category(ch) in ("Zl", "Zp", "Cf", "Cc", "Cs", "Co", "Cn") or o in _BIDI:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)  # other separators (e.g. ideographic space) are harmless
    return "".join(out)


class SafeConsole(Console):
    """A Console whose print() escapes control characters in every plain string it is given."""

    def print(self, *objects, **kw):  # noqa: A003 - Console's own name
        super().print(*(term_safe(o) if isinstance(o, str) else o for o in objects), **kw)


out_console = SafeConsole(highlight=False, soft_wrap=True)
err_console = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
