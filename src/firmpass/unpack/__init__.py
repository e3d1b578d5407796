"""The unpack stage: open a firmware image, nested to any depth, keeping the image's true metadata.

``run(ctx)`` fills ``ctx.result.image.container_chain`` (one ContainerNode per container: the image
is "0", its parts "0.1", "0.2", a part's parts "0.1.1", ...) and ``ctx.result.files`` (one FileEntry
per filesystem entry with the mode, owner, link target and device numbers stored in the image).

Layout under the output directory (``ctx.out``)::

    unpacked/blobs/<id>.<format>.bin   raw bytes of every carved part and every payload: uImage,
                                       FIT, DTB, TRX partitions, decompressed streams (kernel ...),
                                       UBI volumes.  ContainerNode.blob points here (node "0", the
                                       input image, points at the input file itself).
    unpacked/<id>.<format>/...         a filesystem or archive's content (ContainerNode.extracted_to);
                                       FileEntry.disk_path is a regular file in here.  Directories are
                                       0755, files 0644, nothing executable; symlinks are made last,
                                       verbatim and never followed; device nodes and fifos are not
                                       created (their metadata is in FileEntry).

A file inside a filesystem that is itself a container (a tar.gz, a squashfs in /lib/firmware ...)
gets its own ContainerNode with ``source_path`` set, and its blob is the extracted file.

Formats (one handler each, one module per format family in firmpass.unpack.handlers, ordered in
handlers.HANDLERS; filesystems share handlers.common.walk_fs): uImage (kernel, ramdisk, multi), FIT, DTB,
Broadcom TRX, Android sparse, squashfs 4 (gzip/lzma/lzo/xz/lz4/zstd), legacy and vendor squashfs (1.x-3.x
and vendor 4.x variants, either byte order, gzip/LZMA variants), UBI, UBIFS, JFFS2, ext2/3/4,
cpio (newc, odc), tar, zip, gzip/xz/bzip2/zstd/lzma streams; Linux bzImage and ELF are recognised
leaves.  Bytes before or between known parts (a vendor header) are carved by signature.

A reused output directory starts clean: OUT/unpacked from an earlier run is removed first (without
following any symlink in it).  A regular file whose content cannot be written (a name clash in the
image) keeps its metadata and is named in one counted warning per part.

Hostile input: nothing is written outside ``ctx.out`` (SafeTree), every stream and filesystem is
bounded by ``ctx.options.limits`` (expansion ratio and per-file size stop one part with a warning;
total size, file count and time stop unpacking, keep what was done and warn); a file in a filesystem
whose declared size is over the per-file limit, or over what its part may expand to (max_ratio x the
part's size, less what earlier files of the part took), is not read: its metadata is kept and one
warning per part names it; content is read and written in 1 MiB chunks; a corrupt part gives
a warning naming it and the rest is unpacked; nothing from the image is executed.  A file with no
known container is either not firmware at all (text, a picture, a document, a few bytes: UnusableInput
"err.not_firmware_what", naming which) or an image firmpass cannot open, scanned as one blob with exit 0
(image.opened false, image.entropy per region, image.likely_cause, one warning; see unpack.blob); an image whose only container is
corrupt raises UnusableInput("err.corrupt"); a limit hit before anything usable came out raises
LimitExceeded("err.limit").  The CLI turns those into one line and exit code 2.
"""
from __future__ import annotations

from firmpass.errors import LimitExceeded, UnusableInput
from firmpass.i18n import msg
from firmpass.model import Text
from firmpass.unpack import handlers  # noqa: F401 - registers the handlers
from firmpass.unpack.engine import REGISTRY, Unpacker

__all__ = ["run", "REGISTRY"]


def readable_names(ctx) -> None:
    """Names are bytes in an image: one that is not valid UTF-8 (GBK and Latin-1 names are common in
    firmware) was read with surrogateescape, so nothing is lost and the content was written under its
    true name.  Here the path every later stage sees becomes readable text (those bytes as \\xNN) and
    the raw bytes are kept as hex in FileEntry.path_bytes; link targets and nested parts' source paths
    are made readable the same way, so symlinks still resolve and checks still see the file.  disk_path
    keeps the true on-disk name (findings.json shows it escaped)."""
    from firmpass.model import name_bytes, readable_name

    for f in ctx.result.files:
        shown = readable_name(f.path)
        if shown != f.path:
            try:
                f.path_bytes = name_bytes(f.path).hex()
            except UnicodeEncodeError:
                f.path_bytes = None
            f.path = shown
        if f.link_target:
            f.link_target = readable_name(f.link_target)
    for n in ctx.result.image.container_chain:
        if n.source_path:
            n.source_path = readable_name(n.source_path)


def run(ctx) -> None:
    u = Unpacker(ctx)
    u.reset_output()  # an earlier run's OUT/unpacked (stale files, stale symlinks) is removed first
    ctx.result.image.container_chain.clear()
    root = u.new_node(None, "data", size=ctx.result.image.size, blob=str(ctx.image))
    try:
        u.open_file(root, ctx.image, 0, carve=True)
    except LimitExceeded as e:  # a global limit: keep what was unpacked, say where it stopped
        root.status = "partial"
        if not ctx.result.files and len(u.nodes) <= 1:
            raise
        ctx.warn("unpack", "limit", e.text)
    if not ctx.result.files and root.format == "elf" and root.status == "ok":
        _single_binary(u, root, ctx)
    # formats of carving parents are only known after their parts: set the chains last
    chains = {n.id: u.chain(n) for n in u.nodes}
    for f in ctx.result.files:
        f.chain = chains.get(f.container, f.chain)
    readable_names(ctx)
    ctx.scratch["unpack"] = {"bytes_written": u.written, "files": u.nfiles}
    if len(u.nodes) == 1 and root.format == "data":
        _unopened(u, root, ctx)  # raises UnusableInput for input that is not firmware at all
        return
    ctx.result.image.opened = True
    if not ctx.result.files and u.failures:
        useful = [n for n in u.nodes if n.status == "ok" and n.format not in ("data", "empty")]
        if not useful:  # every container found was corrupt or a bomb: nothing to scan
            nid, why = next(iter(u.failures.items()))
            if why == "limit":
                meta = u.by_id[nid].meta
                detail = Text(en=meta.get("limit", ""), zh=meta.get("limit_zh") or meta.get("limit", ""))
                raise LimitExceeded("err.limit", detail=detail, option=meta.get("limit_option", "--max-ratio"))
            raise UnusableInput("err.corrupt", path=str(ctx.image), detail=why)


def _unopened(u: Unpacker, root, ctx) -> None:
    """No handler opened the image.  Input that is not firmware at all (text, a picture, a document, a
    few bytes) is unusable and the error says which; anything else is scanned as one blob: its hashes
    are already in the image section, its entropy per region and the likely cause of the failure are
    added there, and one warning names that cause.  Identify scans the blob's strings (node "0")."""
    from firmpass.unpack import blob

    what = blob.not_firmware(ctx.image)
    if what is not None:
        raise UnusableInput("err.not_firmware_what", path=str(ctx.image), what=what)
    img = ctx.result.image
    if blob.raw_kernel(ctx.image):  # an uncompressed kernel Image with no header magic (ARM, MIPS): a leaf
        root.format = "linux-kernel"
        root.meta["kind"] = "raw Image"
        img.opened = True
        return
    img.opened = False
    img.entropy = blob.entropy_profile(ctx.image)
    img.likely_cause = blob.likely_cause(img.entropy)
    img.magic = _magic(ctx.image)
    root.meta["likely_cause"] = img.likely_cause
    ent = img.entropy
    ctx.warn("unpack", "not_opened", msg("unpack.not_opened", cause=blob.CAUSES[img.likely_cause],
                                         mean=f"{ent['mean']:.2f}", chi=f"{ent['chi_square_median']:.0f}",
                                         magic=img.magic or "data"))


def _magic(path) -> str | None:
    """libmagic's one-line description of the file (python-magic is a dependency), or None."""
    try:
        import magic

        with open(path, "rb") as fh:
            return str(magic.from_buffer(fh.read(1 << 20)))[:200]
    except Exception:  # noqa: BLE001 - a description only; libmagic missing or failing changes nothing
        return None


def _single_binary(u: Unpacker, root, ctx) -> None:
    """A bare executable or library given as the image (a vendor daemon, a bootloader ELF): scanned
    as a one-file tree, /<its name>, so identification, hardening and key checks run on it.  Its
    mode is the file's own on the user's disk; there is no image metadata to be true to."""
    import os
    import stat

    from firmpass.unpack.handlers.common import OUT_CHUNK, entry

    name = os.path.basename(str(ctx.image)) or "image"
    name = "".join(ch if ch.isprintable() and ch not in "/\\" else "_" for ch in name)[:255] or "image"
    tree = u.tree(root)
    st = os.stat(ctx.image)
    e = entry(name, stat.S_IFREG | stat.S_IMODE(st.st_mode), 0, 0, st.st_size, typ="file")
    with open(ctx.image, "rb") as fh:
        e.disk_path = tree.write(name, iter(lambda: fh.read(OUT_CHUNK), b""))
    root.meta["single_binary"] = True
    u.add_fs(root, tree, [e], 0, nested=False)
    ctx.warn("unpack", "single_binary", msg("unpack.single_binary", name=name))
