from __future__ import annotations

from pathlib import Path

import pytest

from firmpass.context import ScanContext
from firmpass.model import FileEntry, ImageInfo, ScanResult, ToolInfo
from tests.evidence_text import untranslated_details
from tests.treectx import context_from_tree, entries_from_tree


def run_checks(ctx: ScanContext) -> ScanContext:
    """Run every check; whatever the image, each evidence detail they write must have its Chinese text."""
    from firmpass.checks import run

    run(ctx)
    assert untranslated_details(ctx.result.findings) == []
    return ctx


def empty_ctx(out: Path) -> ScanContext:
    out.mkdir(parents=True, exist_ok=True)
    res = ScanResult(tool=ToolInfo(version="test"), image=ImageInfo(path="-", name="img", sha256="0" * 64, size=0))
    return ScanContext(image=out, out=out, result=res)


def file_entry(path: str, disk: Path, container: str = "0.1", mode: int = 0o644, **kw) -> FileEntry:
    return FileEntry(path=path, container=container, type="file", size=disk.stat().st_size, mode=mode,
                     disk_path=str(disk.resolve()), **kw)


@pytest.fixture(scope="session")
def rootfs(corpus) -> Path:
    return (corpus / "rootfs").resolve()


@pytest.fixture(scope="session")
def rootfs_result(rootfs, tmp_path_factory):
    return run_checks(context_from_tree(rootfs, tmp_path_factory.mktemp("ck"))).result


@pytest.fixture(scope="session")
def triple_result(rootfs, tmp_path_factory):
    """The rootfs three times, as firmware.bin holds it (squashfs, jffs2, FIT ramdisk)."""
    ctx = context_from_tree(rootfs, tmp_path_factory.mktemp("ck3"))
    ctx.result.files = [e for c in ("0.1", "0.2", "0.3") for e in entries_from_tree(rootfs, container=c)]
    return run_checks(ctx).result


def checks_on_tree(tmp_path, files: dict, modes: dict | None = None, name: str = "root"):
    """Write `files` ({image path: text or bytes}) under tmp_path/name, chmod the ones in `modes`, run
    every check on it as a root filesystem and return the scan result."""
    from tests.treectx import context_from_tree

    root = tmp_path / name
    for rel, content in files.items():
        f = root / rel.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
        if modes and rel in modes:
            f.chmod(modes[rel])
    return run_checks(context_from_tree(root, tmp_path / ("out-" + name))).result


def elf_files(root):
    """(path, bytes) of every regular ELF file under root, in name order (symlinks skipped)."""
    for f in sorted(root.rglob("*")):
        if f.is_symlink() or not f.is_file():
            continue
        data = f.read_bytes()
        if data[:4] == b"\x7fELF":
            yield f, data
