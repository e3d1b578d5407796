"""ESP-IDF application images (Espressif ESP32 family): the ESP-IDF release an app was built with, from the
app description the build puts at the start of the image's first segment (esp_app_desc_t, ESP-IDF's
components/esp_app_format/include/esp_app_desc.h, formerly esp_app_format.h):

    uint32 magic_word = 0xABCD5432, uint32 secure_version, uint32 reserv1[2], char version[32],
    char project_name[32], char time[16], char date[16], char idf_ver[32], uint8 app_elf_sha256[32], ...

An app image starts with the image header (magic byte 0xE9, 24 bytes) and the first segment's header (8
bytes): the description sits 0x20 bytes after the 0xE9, in the image itself or at the app partition of a
whole flash dump.  A structured field that names the release, unlike a string found somewhere.

`idf_ver` is `git describe` of the ESP-IDF tree: "v4.1" or "v5.1.2" is that release; "-dirty" (local edits
to the tree) keeps it; "v4.4-123-gabcdef" (commits past a tag) or "v5.3-dev" is no release, so no version
(the raw text stays in the component's properties).  Written here: no Python library reads it.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass

MAGIC = struct.pack("<I", 0xABCD5432)
IMAGE_MAGIC = 0xE9
_DESC_OFFSET = 0x20  # image header (24) + first segment header (8)
_DESC_SIZE = 0x90  # up to the end of idf_ver
_RELEASE = re.compile(r"^v?(\d+\.\d+(?:\.\d+)?)(?:-dirty)?$")
_MAX_HITS = 64  # magic words looked at per blob (hostile input: bounded)


@dataclass
class AppDesc:
    offset: int  # of the image (its 0xE9 byte)
    project: str
    app_version: str
    date: str
    idf_ver: str  # as written
    idf_release: str | None  # the ESP-IDF release, or None when idf_ver names none


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("ascii", "replace")


def _printable(s: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F for c in s)


def app_descs(data: bytes) -> list[AppDesc]:
    """Every ESP-IDF app description in `data` whose image header is where the format puts it."""
    out: list[AppDesc] = []
    i = data.find(MAGIC, _DESC_OFFSET)
    hits = 0
    while i >= 0 and hits < _MAX_HITS:
        hits += 1
        start = i - _DESC_OFFSET
        d = data[i: i + _DESC_SIZE]
        if data[start] == IMAGE_MAGIC and len(d) == _DESC_SIZE:
            idf = _cstr(d[0x70:0x90])
            project, version, date = _cstr(d[0x30:0x50]), _cstr(d[0x10:0x30]), _cstr(d[0x60:0x70])
            if idf and all(_printable(s) for s in (idf, project, version, date)):
                m = _RELEASE.match(idf)
                out.append(AppDesc(start, project, version, date, idf, m.group(1) if m else None))
        i = data.find(MAGIC, i + 4)
    return out


def looks_like_app(head: bytes) -> bool:
    """The first bytes of a file are an ESP-IDF app image (header magic and the description's magic word)."""
    return len(head) >= _DESC_OFFSET + 4 and head[0] == IMAGE_MAGIC and head[_DESC_OFFSET:_DESC_OFFSET + 4] == MAGIC
