"""Flattened Device Tree (FDT / DTB, also the container of U-Boot FIT images).

Written here because the format is small and stable (devicetree specification v0.4, ch. 5) and the
Python packages that parse it are unmaintained or need libfdt.  The parser keeps the byte offsets of
every node and property in the structure block: verifying a FIT configuration signature means
re-hashing exactly those regions.  Hostile input: every offset and length is bounds-checked, depth
and node count are limited, and any violation raises FdtError.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
HEADER = struct.Struct(">10I")
MAX_DEPTH = 64
MAX_NODES = 100_000


class FdtError(ValueError):
    pass


@dataclass
class FdtProp:
    name: str
    value: bytes
    offset: int  # offset of the FDT_PROP token, relative to the start of the structure block
    end: int  # offset just past the (padded) value

    def as_str(self) -> str:
        return self.value.rstrip(b"\0").decode("utf-8", "replace")

    def as_strs(self) -> list[str]:
        return [s.decode("utf-8", "replace") for s in self.value.rstrip(b"\0").split(b"\0")] if self.value else []

    def as_u32(self) -> int:
        if len(self.value) < 4:
            raise FdtError(f"property {self.name} is not a u32")
        return struct.unpack(">I", self.value[:4])[0]

    def as_u32s(self) -> list[int]:
        n = len(self.value) // 4
        return list(struct.unpack(f">{n}I", self.value[: 4 * n]))


@dataclass
class FdtNode:
    name: str
    path: str
    offset: int  # offset of the FDT_BEGIN_NODE token in the structure block
    end: int = 0  # offset just past this node's FDT_END_NODE token
    props: dict[str, FdtProp] = field(default_factory=dict)
    children: list["FdtNode"] = field(default_factory=list)

    def child(self, name: str) -> "FdtNode | None":
        for c in self.children:
            if c.name == name:
                return c
        return None

    def prop(self, name: str) -> FdtProp | None:
        return self.props.get(name)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class Fdt:
    totalsize: int
    version: int
    off_struct: int
    size_struct: int
    off_strings: int
    size_strings: int
    root: FdtNode
    blob: bytes

    def node(self, path: str) -> FdtNode | None:
        cur = self.root
        for part in [p for p in path.split("/") if p]:
            cur = cur.child(part)
            if cur is None:
                return None
        return cur

    @property
    def struct_block(self) -> bytes:
        return self.blob[self.off_struct: self.off_struct + self.size_struct]

    @property
    def strings_block(self) -> bytes:
        return self.blob[self.off_strings: self.off_strings + self.size_strings]


def is_fdt(data: bytes) -> bool:
    return len(data) >= HEADER.size and struct.unpack(">I", data[:4])[0] == FDT_MAGIC


def header_size(data: bytes) -> int:
    """totalsize from the header (for carving), or 0 when this is not an FDT."""
    if not is_fdt(data):
        return 0
    return HEADER.unpack_from(data)[1]


def _cstr(buf: bytes, off: int, limit: int) -> tuple[str, int]:
    end = buf.find(b"\0", off, limit)
    if end < 0:
        raise FdtError("unterminated string")
    return buf[off:end].decode("utf-8", "replace"), end + 1


def parse(data: bytes) -> Fdt:
    """The device tree in `data`, with the offset of every node and property in the structure block.
    Raises FdtError on anything malformed."""
    totalsize, version, off_struct, size_struct, off_strings, size_strings = _checked_header(data)
    blob = data[:totalsize]
    root = _read_tree(blob[off_struct: off_struct + size_struct], blob[off_strings: off_strings + size_strings])
    return Fdt(totalsize=totalsize, version=version, off_struct=off_struct, size_struct=size_struct,
               off_strings=off_strings, size_strings=size_strings, root=root, blob=blob)


def _checked_header(data: bytes) -> tuple[int, int, int, int, int, int]:
    """(totalsize, version, off_struct, size_struct, off_strings, size_strings) from the header, the blocks
    checked to lie inside the blob."""
    if not is_fdt(data):
        raise FdtError("no FDT magic")
    (_, totalsize, off_struct, off_strings, _off_rsv, version, _last, _cpu, size_strings,
     size_struct) = HEADER.unpack_from(data)
    if totalsize > len(data):
        raise FdtError(f"truncated: header says {totalsize} bytes, have {len(data)}")
    if version < 17:
        size_struct = totalsize - off_struct  # v16 has no size_dt_struct; bound it by the blob
    if not (0 < off_struct < totalsize and off_struct + size_struct <= totalsize
            and 0 < off_strings <= totalsize and off_strings + size_strings <= totalsize):
        raise FdtError("block offsets outside the blob")
    return totalsize, version, off_struct, size_struct, off_strings, size_strings


def _read_tree(s: bytes, strings: bytes) -> FdtNode:
    """The root node of structure block `s` (property names in `strings`), every node and property
    with its offset in `s`."""
    pos, stack, root, count = 0, [], None, 0
    while pos + 4 <= len(s):
        tok_off = pos
        (tok,) = struct.unpack_from(">I", s, pos)
        pos += 4
        if tok == FDT_BEGIN_NODE:
            name, pos = _cstr(s, pos, len(s))
            pos = (pos + 3) & ~3
            count += 1
            if count > MAX_NODES or len(stack) >= MAX_DEPTH:
                raise FdtError("too many or too deeply nested nodes")
            parent = stack[-1] if stack else None
            path = "/" if parent is None else (parent.path.rstrip("/") + "/" + name)
            node = FdtNode(name=name, path=path, offset=tok_off)
            if parent is None:
                if root is not None:
                    raise FdtError("second root node")
                root = node
            else:
                parent.children.append(node)
            stack.append(node)
        elif tok == FDT_END_NODE:
            if not stack:
                raise FdtError("unbalanced end of node")
            stack.pop().end = pos
        elif tok == FDT_PROP:
            if not stack or pos + 8 > len(s):
                raise FdtError("property outside a node")
            ln, nameoff = struct.unpack_from(">II", s, pos)
            pos += 8
            if pos + ln > len(s) or nameoff >= len(strings):
                raise FdtError("property runs past the structure block")
            name, _ = _cstr(strings, nameoff, len(strings))
            value = s[pos: pos + ln]
            pos = (pos + ln + 3) & ~3
            stack[-1].props[name] = FdtProp(name=name, value=value, offset=tok_off, end=pos)
        elif tok == FDT_NOP:
            continue
        elif tok == FDT_END:
            break
        else:
            raise FdtError(f"bad token {tok:#x} at {tok_off}")
    if root is None or stack:
        raise FdtError("incomplete tree")
    return root


def find_regions(fdt: Fdt, include: set[str] | list[str], exclude_props: set[str] | list[str]) -> list[tuple[int, int]]:
    """Byte regions (absolute offset, size) of the structure block that cover the nodes in `include`,
    as U-Boot's fdt_find_regions() selects them for FIT configuration signatures.

    Rules (devicetree regions as U-Boot uses them): a listed node contributes its FDT_BEGIN_NODE tag,
    its properties (except `exclude_props`) and its FDT_END_NODE tag; a direct child of a listed node
    contributes only its BEGIN/END tags; deeper nodes nothing; the final FDT_END tag is always in.
    Adjacent regions are merged.  Raises FdtError on a malformed structure block."""
    inc, exc = set(include), set(exclude_props)
    s, strings, base = fdt.struct_block, fdt.strings_block, fdt.off_struct
    regions: list[tuple[int, int]] = []
    start, want, pos = -1, 0, 0
    stack: list[int] = []
    path: list[str] = []
    while True:
        offset = pos
        tok, pos, name, pname = _region_token(s, strings, pos)
        include_it, stop_at = 0, pos
        if tok == FDT_PROP:
            include_it, stop_at = want >= 2 and pname not in exc, offset
        elif tok == FDT_NOP:
            include_it, stop_at = want >= 2, offset
        elif tok == FDT_BEGIN_NODE:
            if len(stack) >= MAX_DEPTH:
                raise FdtError("nodes nested too deeply")
            path.append(name)
            p = "/" + "/".join(x for x in path if x)
            stack.append(want)
            if want == 1:
                stop_at = offset
            if p in inc:
                want = 2
            elif want:
                want -= 1
            else:
                stop_at = offset
            include_it = want
        elif tok == FDT_END_NODE:
            if not stack:
                raise FdtError("unbalanced end of node")
            include_it = want
            want = stack.pop()
            path.pop()
        elif tok == FDT_END:
            include_it = 1
        if include_it and start == -1:  # a region starts (or the previous one, when adjacent, goes on)
            if regions and offset == regions[-1][0] + regions[-1][1] - base:
                start = regions.pop()[0] - base
            else:
                start = offset
        if not include_it and start != -1:
            regions.append((base + start, stop_at - start))
            start = -1
        if tok == FDT_END:
            break
    if pos != len(s) and fdt.version >= 17:
        raise FdtError("structure block has data after FDT_END")
    regions.append((base + start, pos - start))
    return regions


def _region_token(s: bytes, strings: bytes, pos: int) -> tuple[int, int, str, str]:
    """The token at `pos` of structure block `s` as find_regions reads it: (token, offset just past it,
    the node name of an FDT_BEGIN_NODE, the property name of an FDT_PROP)."""
    if pos + 4 > len(s):
        raise FdtError("structure block ends without FDT_END")
    offset = pos
    (tok,) = struct.unpack_from(">I", s, pos)
    pos += 4
    name = pname = ""
    if tok == FDT_BEGIN_NODE:
        name, pos = _cstr(s, pos, len(s))
        pos = (pos + 3) & ~3
    elif tok == FDT_PROP:
        if pos + 8 > len(s):
            raise FdtError("property outside the structure block")
        ln, nameoff = struct.unpack_from(">II", s, pos)
        pos = (pos + 8 + ln + 3) & ~3
        pname = _cstr(strings, nameoff, len(strings))[0] if nameoff < len(strings) else ""
    elif tok not in (FDT_END_NODE, FDT_NOP, FDT_END):
        raise FdtError(f"bad token {tok:#x} at {offset}")
    return tok, pos, name, pname
