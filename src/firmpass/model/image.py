"""The image and what unpack and inventory read from it: the container tree and every file with its
metadata (findings.json `image`, `files`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import _M


class ContainerNode(_M):
    """One container found in the image: the image itself, a carved part, a filesystem."""

    id: str  # "0" is the image; children "0.1", "0.1.2", ...
    parent: str | None = None
    format: str  # e.g. "vendor-header", "uimage", "fit", "squashfs", "jffs2", "gzip", ...
    offset: int = 0  # offset within the parent blob (carved parts) or 0
    size: int = 0
    source_path: str | None = None  # path inside the parent filesystem when the blob was a file in it
    extracted_to: str | None = None  # directory relative to the output dir
    blob: str | None = None  # the container's raw bytes on disk: relative to the output dir (absolute for the input image)
    status: Literal["ok", "partial", "failed", "skipped"] = "ok"
    meta: dict[str, Any] = Field(default_factory=dict)  # format-specific header fields (uImage name, FIT nodes ...)


class ElfInfo(_M):
    elf_class: int  # 32 or 64
    machine: str
    endian: Literal["little", "big"]
    type: str | None = None  # EXEC, DYN, REL ...


class FileEntry(_M):
    """One file as stored in the image: true metadata from the filesystem, not from the extractor."""

    path: str  # absolute path inside its filesystem, e.g. "/etc/shadow"
    container: str  # ContainerNode.id of the filesystem holding it
    chain: list[str] = Field(default_factory=list)  # formats from the image down, e.g. ["vendor-header", "squashfs"]
    type: Literal["file", "dir", "symlink", "hardlink", "chardev", "blockdev", "fifo", "socket"]
    size: int = 0
    mode: int = 0  # full permission bits incl. setuid/setgid/sticky (st_mode & 0o7777)
    uid: int = 0
    gid: int = 0
    link_target: str | None = None
    device: tuple[int, int] | None = None  # (major, minor)
    sha256: str | None = None
    sha512: str | None = None
    elf: ElfInfo | None = None
    disk_path: str | None = None  # extracted content, relative to the output dir (regular files only)
    # hex of the raw name when the image's name is not valid UTF-8; `path` then shows those bytes as \xNN
    path_bytes: str | None = None

    @property
    def mode_str(self) -> str:
        return format(self.mode, "04o")


class ImageInfo(_M):
    path: str
    name: str
    sha256: str
    sha512: str | None = None
    size: int
    container_chain: list[ContainerNode] = Field(default_factory=list)
    # set by unpack: False when no container, filesystem or kernel was found in it (scanned as one blob)
    opened: bool | None = None
    entropy: dict[str, Any] | None = None  # per region, for an image that was not opened (unpack.blob)
    likely_cause: str | None = None  # why it was not opened: encrypted / compressed / unknown_format
    magic: str | None = None  # libmagic's description of an image that was not opened
