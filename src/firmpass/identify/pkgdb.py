"""Package databases found in a filesystem: dpkg status, opkg status, apk installed, rpm (sqlite),
Buildroot and Yocto manifests.  Each parser returns plain `Package` records; identify/__init__ turns
them into components.  Parsers are tolerant: a malformed stanza is skipped, never fatal."""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Package:
    name: str
    version: str  # the full version as the database has it (epoch:upstream-revision)
    upstream: str  # upstream version (no epoch, no distro revision)
    source: str | None = None
    source_version: str | None = None
    arch: str | None = None
    maintainer: str | None = None
    homepage: str | None = None
    license: str | None = None
    depends: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    db: str = ""  # dpkg | opkg | apk | rpm | buildroot | yocto


def debian_upstream(version: str) -> str:
    """Upstream part of a Debian version: drop the epoch, the Debian revision and repack suffixes
    (+dfsg, .dfsg, +ds, ~ds)."""
    v = version.split(":", 1)[1] if re.match(r"^\d+:", version) else version
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    v = re.split(r"[+~](?:dfsg|ds|repack|really)", v)[0]
    v = re.sub(r"\.dfsg\d*$", "", v)
    v = re.split(r"\+(?=\d{8}|git)", v)[0]
    # Debian's tcp-wrappers counts its patch sets in a letter after upstream 7.6 (7.6.q)
    v = re.sub(r"^7\.6\.[a-z]$", "7.6", v)
    return v


def _stanzas(text: str):
    cur: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur, key = {}, None
            continue
        if line[0] in " \t" and key:
            cur[key] += "\n" + line.strip()
            continue
        if ":" in line:
            key, val = line.split(":", 1)
            key = key.strip()
            cur[key] = val.strip()
    if cur:
        yield cur


def _deps(s: str) -> list[str]:
    out = []
    for item in re.split(r",\s*", s or ""):
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9+.\-_]*)", item.split("|")[0])
        if m:
            out.append(m.group(1))
    return out


def parse_dpkg_status(text: str, db: str = "dpkg") -> list[Package]:
    """dpkg /var/lib/dpkg/status or opkg /usr/lib/opkg/status (same RFC-822 stanza format)."""
    out = []
    for st in _stanzas(text):
        name, ver = st.get("Package"), st.get("Version")
        if not name or not ver:
            continue
        status = st.get("Status", "install ok installed")
        if "installed" not in status.split() or "not-installed" in status:
            continue
        src, src_ver = st.get("Source"), None
        if src:
            m = re.match(r"(\S+)(?:\s+\(([^)]+)\))?", src)
            if m:
                src, src_ver = m.group(1), m.group(2)
        out.append(Package(
            name=name, version=ver, upstream=debian_upstream(ver), source=src or name, source_version=src_ver,
            arch=st.get("Architecture"), maintainer=st.get("Maintainer"), homepage=st.get("Homepage"),
            license=st.get("License"),  # opkg has it; dpkg does not
            depends=_deps(st.get("Depends", "") + ("," + st["Pre-Depends"] if st.get("Pre-Depends") else "")),
            db=db))
    return out


def parse_apk_installed(text: str) -> list[Package]:
    """Alpine /lib/apk/db/installed: one-letter keys, blank line between packages."""
    out = []
    cur: dict[str, list[str]] = {}
    files: list[str] = []
    cwd = ""

    def flush():
        if cur.get("P") and cur.get("V"):
            ver = cur["V"][0]
            up = re.sub(r"-r\d+$", "", ver)
            out.append(Package(name=cur["P"][0], version=ver, upstream=up, source=(cur.get("o") or [None])[0],
                               arch=(cur.get("A") or [None])[0], maintainer=(cur.get("m") or [None])[0],
                               homepage=(cur.get("U") or [None])[0], license=(cur.get("L") or [None])[0],
                               depends=[d for d in (cur.get("D") or [""])[0].split() if not d.startswith(("so:", "cmd:", "/"))],
                               files=list(files), db="apk"))

    for line in text.splitlines():
        if not line.strip():
            flush()
            cur, files, cwd = {}, [], ""
            continue
        if len(line) >= 2 and line[1] == ":":
            k, v = line[0], line[2:]
            if k == "F":
                cwd = v
            elif k == "R":
                files.append("/" + (cwd + "/" if cwd else "") + v)
            else:
                cur.setdefault(k, []).append(v)
    flush()
    return out


RPM_SQLITE_MAX_BLOB = 16 << 20  # one header blob; real ones are a few hundred KiB
RPM_SQLITE_MAX_ROWS = 100_000
RPM_SQLITE_SECONDS = 60.0  # one database, at most (the scan deadline may cut it shorter)


class RpmDbLimit(Exception):
    """The database asked for more time or memory than allowed (message is English detail)."""


def parse_rpm_sqlite(path, deadline: float | None = None) -> list[Package]:
    """rpm >= 4.16 keeps rpmdb.sqlite; the header blobs are parsed for NAME/VERSION/RELEASE/LICENSE.
    Berkeley DB (Packages) and NDB databases are not read (best effort, reported as a warning).

    The image's database is hostile input: it is opened in place (it already lies under the output
    directory) read-only and `immutable` (no journal, no -wal/-shm file written beside it, no copy
    anywhere), with the schema untrusted, `Packages` required to be a real table (a view could recurse
    without end), a progress handler that stops any statement at `deadline` (time.monotonic()), and a
    length limit so a zeroblob() or huge row cannot fill memory."""
    from urllib.parse import quote

    end = time.monotonic() + RPM_SQLITE_SECONDS
    if deadline is not None:
        end = min(end, deadline)
    con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True, timeout=0)
    out = []
    try:
        con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, RPM_SQLITE_MAX_BLOB)
        con.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 1 << 16)
        con.set_progress_handler(lambda: 1 if time.monotonic() > end else 0, 10_000)
        con.execute("PRAGMA trusted_schema=OFF")
        # SQLite's own temporary tables in memory: never a file in the process's TMPDIR (firmpass.outdir)
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("PRAGMA query_only=ON")
        kind = con.execute("SELECT type FROM sqlite_master WHERE name='Packages'").fetchone()
        if kind is None or kind[0] != "table":
            raise RpmDbLimit("no Packages table" if kind is None else f"Packages is a {kind[0]}, not a table")
        cur = con.execute("SELECT blob FROM Packages")
        for n, (blob,) in enumerate(cur):
            if n >= RPM_SQLITE_MAX_ROWS:
                raise RpmDbLimit(f"more than {RPM_SQLITE_MAX_ROWS} rows")
            if not isinstance(blob, (bytes, memoryview)):
                continue
            tags = _rpm_header(bytes(blob))
            if tags.get(1000) and tags.get(1001):
                out.append(Package(name=tags[1000], version=f"{tags[1001]}-{tags.get(1002, '')}".rstrip("-"),
                                   upstream=tags[1001], license=tags.get(1014), arch=tags.get(1022),
                                   homepage=tags.get(1020), source=None, db="rpm"))
    except sqlite3.OperationalError as e:
        if "interrupt" in str(e):
            raise RpmDbLimit(f"stopped after {RPM_SQLITE_SECONDS:g} s or at the scan deadline") from None
        raise
    except sqlite3.DataError as e:  # string or blob too big
        raise RpmDbLimit(str(e)) from None
    finally:
        con.close()
    return out


def _rpm_header(b: bytes) -> dict[int, str]:
    """Strings of an rpm header blob (as stored in rpmdb.sqlite: no lead/magic, il + dl then index)."""
    import struct

    if len(b) < 8:
        return {}
    il, dl = struct.unpack(">II", b[:8])
    if il > 10000 or 8 + il * 16 + dl > len(b):
        return {}
    store = b[8 + il * 16: 8 + il * 16 + dl]
    out: dict[int, str] = {}
    for i in range(il):
        tag, typ, off, cnt = struct.unpack(">IIII", b[8 + i * 16: 24 + i * 16])
        if typ in (6, 9) and tag in (1000, 1001, 1002, 1014, 1020, 1022) and off < len(store):
            end = store.find(b"\0", off)
            out[tag] = store[off: end if end >= 0 else len(store)].decode("utf-8", "replace")
    return out


def parse_buildroot_manifest(text: str) -> list[Package]:
    """Buildroot `make legal-info` manifest.csv: PACKAGE,VERSION,LICENSE,LICENSE FILES,SOURCE ARCHIVE,..."""
    import csv
    import io

    out = []
    for row in csv.DictReader(io.StringIO(text)):
        name, ver = (row.get("PACKAGE") or "").strip(), (row.get("VERSION") or "").strip()
        if name and ver:
            out.append(Package(name=name, version=ver, upstream=ver, license=(row.get("LICENSE") or None), db="buildroot"))
    return out


def parse_yocto_manifest(text: str) -> list[Package]:
    """Yocto image manifest (<image>.manifest): 'name arch version' per line."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and re.match(r"^[\w.+-]+$", parts[0]):
            ver = parts[2]
            up = re.sub(r"-r\d+(\.\d+)?$", "", ver.split(":", 1)[-1])
            out.append(Package(name=parts[0], version=ver, upstream=up, arch=parts[1], db="yocto"))
    return out


DB_PATHS = {
    "/var/lib/dpkg/status": ("dpkg", parse_dpkg_status),
    "/usr/lib/opkg/status": ("opkg", lambda t: parse_dpkg_status(t, "opkg")),
    "/var/lib/opkg/status": ("opkg", lambda t: parse_dpkg_status(t, "opkg")),
    "/lib/apk/db/installed": ("apk", parse_apk_installed),
}
MANIFEST_NAMES = {
    "manifest.csv": ("buildroot", parse_buildroot_manifest),
}


def debian_copyright_license(text: str) -> list[str]:
    """SPDX-ish licence names from a machine-readable debian/copyright (License: lines), else []."""
    if not text.startswith(("Format:", "Format-Specification:")):
        return []
    lic = []
    for m in re.finditer(r"^License:\s*(\S[^\n]*)$", text, re.M):
        v = m.group(1).strip()
        if v and v not in lic:
            lic.append(v)
    return lic


def read_path(p: Path, limit: int = 32 << 20) -> bytes:
    with open(p, "rb") as fh:
        return fh.read(limit)


def parse_file_list(text: str) -> list[str]:
    """A dpkg / opkg file list (info/<package>.list): one absolute path a line (opkg may add a tab and
    the mode).  The root "/." and blank lines are left out; directories are kept (the caller checks)."""
    out = []
    for line in text.splitlines():
        path = line.split("\t", 1)[0].strip()
        if path.startswith("/") and path not in ("/", "/."):
            out.append(path)
    return out
