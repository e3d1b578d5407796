"""formats/elf.py, the one ELF reader: its dynamic-linking facts agree with pyelftools on every ELF of
the corpus rootfs, and inventory reads each content once for identify and checks."""
from __future__ import annotations

from firmpass.formats import elf
from tests.checks.conftest import elf_files
from tests.treectx import context_from_tree, entries_from_tree


def _pyelftools_dynamic(data: bytes) -> tuple[str | None, list[str]]:
    import io

    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    soname, needed = None, []
    for sec in ELFFile(io.BytesIO(data)).iter_sections():
        if isinstance(sec, DynamicSection):
            for tag in sec.iter_tags():
                if tag.entry.d_tag == "DT_SONAME":
                    soname = tag.soname
                elif tag.entry.d_tag == "DT_NEEDED":
                    needed.append(tag.needed)
    return soname, needed


def test_soname_and_needed_agree_with_pyelftools(rootfs):
    n = with_needed = 0
    for p, data in elf_files(rootfs):
        f = elf.facts(data)
        assert f is not None and f.info is not None and f.info.machine == "x86-64", p
        assert (f.soname, f.needed) == _pyelftools_dynamic(data), p
        assert f.hardening == elf.hardening_pyelftools(data), p
        assert f.data_ranges and all(0 <= a < z <= len(data) for a, z in f.data_ranges), p
        n += 1
        with_needed += bool(f.needed)
    assert n > 100 and with_needed > 100
    libc = elf.facts((rootfs / "lib/x86_64-linux-gnu/libc.so.6").read_bytes())
    assert libc.soname == "libc.so.6" and libc.elf_type == "DYN"


def test_inventory_reads_each_content_once_for_identify_and_checks(rootfs, tmp_path, monkeypatch):
    from firmpass import inventory
    from firmpass.checks.base import CheckRun
    from firmpass.checks.hardening import elf_infos

    ctx = context_from_tree(rootfs, tmp_path)
    ctx.result.files = [e for c in ("0.1", "0.2") for e in entries_from_tree(rootfs, container=c)]
    for f in ctx.result.files:
        f.sha256 = f.sha512 = None
    calls: list[int] = []
    real = elf.facts
    monkeypatch.setattr(elf, "facts", lambda data: calls.append(len(data)) or real(data))
    inventory.run(ctx)
    elfs = {f.sha256 for f in ctx.result.files if f.elf is not None and f.size >= elf.MIN_SIZE}
    assert len(elfs) > 100
    assert len(calls) == len(elfs)  # two copies of the rootfs, one parse per content
    assert set(ctx.scratch["elf"]) == elfs
    infos = elf_infos(CheckRun(ctx))
    assert len(calls) == len(elfs)  # checks took every fact from the inventory's cache
    assert len(infos) == len([f for f in ctx.result.files if f.type == "file" and f.sha256 in elfs])


def test_damaged_tables_never_raise(rootfs):
    """A real binary with its table offsets, counts and entry sizes overwritten (huge, zero, past the
    end): facts() answers (empty dynamic facts, pyelftools' verdict or None on hardening), never raises."""
    import struct

    base = bytearray((rootfs / "usr/sbin/lighttpd").read_bytes())
    fields = {"phoff": (0x20, "Q"), "shoff": (0x28, "Q"), "phentsize": (0x36, "H"), "phnum": (0x38, "H"),
              "shentsize": (0x3A, "H"), "shnum": (0x3C, "H")}
    n = 0
    for off, fmt in fields.values():
        for value in (0, 1, 7, 0xFFFF, len(base) - 8, 2**63 + 5):
            if fmt == "H" and value > 0xFFFF:
                continue
            data = bytearray(base)
            struct.pack_into("<" + fmt, data, off, value)
            f = elf.facts(bytes(data))
            assert f is not None and f.info is not None and f.info.machine == "x86-64"
            assert isinstance(f.needed, list) and (f.hardening is None or "nx" in f.hardening)
            n += 1
    assert n >= 28
    whole = elf.facts(bytes(base))
    cut = elf.facts(bytes(base[: len(base) // 3]))  # truncated: the section table and strings are gone
    assert whole.needed and cut is not None and cut.data_ranges == []


def test_no_other_elf_parser_in_the_package():
    """One ELF reader: pyelftools and the ELF table layouts are read only in formats/elf.py."""
    import re
    from pathlib import Path

    root = Path(elf.__file__).resolve().parents[1]
    others = []
    for p in root.rglob("*.py"):
        if p.name == "elf.py" and p.parent.name == "formats":
            continue
        text = p.read_text(encoding="utf-8")
        if re.search(r"^\s*(from|import) elftools", text, re.M) or re.search(r"\be_phoff\b|\be_shoff\b|\bPT_GNU_", text):
            others.append(str(p.relative_to(root)))
    assert not others, others
    assert "e_phoff" in Path(elf.__file__).read_text(encoding="utf-8") or "phoff" in Path(elf.__file__).read_text(encoding="utf-8")
