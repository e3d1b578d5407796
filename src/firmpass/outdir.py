"""The output directory is firmpass's while a scan runs: one scan at a time, no stale outputs of an
earlier run left beside new ones, a user's own evidence/ never deleted, temporary files kept inside.

- OUT/.firmpass.lock is held with flock() for the whole scan; a second scan into the same OUT is
  refused with one line (exit 2).  The kernel drops the lock when the process ends, killed or not, so
  a stale lock file never blocks the next run; a scan that ends normally removes it.
- Before a stage runs, what an earlier run wrote (findings.json, the SBOMs, assessment.json, the
  reports, evidence/ and evidence.zip, leftover *.tmp files, OUT/.tmp) is removed: a scan that is
  killed part-way leaves only its own outputs.
- OUT/evidence/ carries a marker file; an evidence/ without it (and no firmpass findings.json beside
  it, for directories from before the marker) is the user's and the scan refuses, as for unpacked/.
- OUT/.tmp is the temporary directory of the scan, removed at the end and at the start of the next
  run, so image bytes never land in the system temp dir.  It is a per-scan value (`OutLock.tmp`,
  `ScanContext.tmp`): code of the scan that needs a temporary file passes `dir=ctx.tmp` to tempfile
  (tests/hostile checks every tempfile call in firmpass does), and a child process of the scan (the
  PDF renderer) gets TMPDIR=OUT/.tmp in its own environment.  The process's tempfile.tempdir and
  TMPDIR are never changed, so two scans can run in threads of one process (the server's Dask
  workers) without sharing temporary state.
"""
from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from firmpass.errors import UnusableInput

LOCK = ".firmpass.lock"
TMP = ".tmp"
EVIDENCE_MARKER = ".firmpass-evidence"
UNPACKED_MARKER = ".firmpass-unpacked"  # in OUT/unpacked: the tree is firmpass's own and may be rebuilt
OUTPUTS = ("findings.json", "sbom.cdx.json", "sbom.spdx.json", "assessment.json", "report.html", "report.pdf",
           "components.csv", "vulnerabilities.csv", "evidence.zip")


def firmpass_findings(path: Path) -> bool:
    """OUT/findings.json written by firmpass (an output directory from before the marker existed)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"tool"' in head and b'"firmpass"' in head


def _is_dir(p: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(p).st_mode)
    except FileNotFoundError:
        return False


def remove_tree(top: Path | str) -> None:
    """Remove a directory tree without following links and without recursion: an image can make a
    tree thousands of levels deep (B6), where shutil.rmtree (recursive before Python 3.12) raises
    RecursionError.  Post-order over an explicit stack; symlinks are unlinked, never entered."""
    stack: list[tuple[str, bool]] = [(os.fspath(top), False)]
    while stack:
        path, listed = stack.pop()
        if listed:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append((e.path, False))
                else:
                    os.unlink(e.path)


def _remove(p: Path) -> None:
    """Remove a file, link or directory without following links."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        remove_tree(p)
    else:
        os.unlink(p)


def evidence_is_ours(out: Path) -> bool:
    """OUT/evidence may be replaced: absent, empty, marked by firmpass, or from a firmpass run before
    the marker existed (a firmpass findings.json beside it)."""
    ev = out / "evidence"
    if not _is_dir(ev):
        return True
    return (ev / EVIDENCE_MARKER).is_file() or not any(os.scandir(ev)) or firmpass_findings(out / "findings.json")


class OutLock:
    """The claim on OUT for one scan (see the module doc).  release() is idempotent."""

    def __init__(self, out: Path, inputs: list | None = None):
        self.out = out
        self.inputs = [Path(p).resolve() for p in inputs or [] if p is not None and "://" not in str(p)]
        self.fd: int | None = None
        self.tmp = out / TMP  # this scan's temporary directory (see the module doc)

    def acquire(self) -> "OutLock":
        lock = self.out / LOCK
        for _ in range(5):
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise UnusableInput("err.out_dir", path=str(self.out), detail=e.strerror or str(e)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UnusableInput("err.out_locked", path=str(self.out)) from None
            # the holder before us unlinks the file when it is done: the lock counts only if the
            # name still points at the file we locked, else try again on the new file
            try:
                same = os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise UnusableInput("err.out_locked", path=str(self.out))
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            if not evidence_is_ours(self.out):
                raise UnusableInput("err.out_not_ours", path=str(self.out / "evidence"))
            # unpacked/ from before its marker is recognised by the firmpass findings.json beside it;
            # that file is about to go, so the tree is marked as ours first
            up = self.out / "unpacked"
            if _is_dir(up) and not (up / UNPACKED_MARKER).exists() and firmpass_findings(self.out / "findings.json"):
                (up / UNPACKED_MARKER).write_text("made by firmpass: removed and rebuilt on every run into this directory\n")
            stale = [self.out / n for n in OUTPUTS] + list(self.out.glob("*.tmp")) + [self.out / "evidence",
                                                                                      self.out / TMP]
            for p in stale:
                here = p.resolve()
                for i in self.inputs:  # an input the user named must never be an output we delete
                    if i == here or i.is_relative_to(here):
                        raise UnusableInput("err.image_in_output", path=str(i), out=str(p))
            for p in stale:
                _remove(p)
            (self.out / TMP).mkdir()
        except UnusableInput:
            self.release()
            raise
        except OSError as e:
            self.release()
            raise UnusableInput("err.out_dir", path=str(self.out), detail=e.strerror or str(e)) from None
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            _remove(self.out / TMP)
        except OSError:
            pass
        fd, self.fd = self.fd, None
        try:
            os.unlink(self.out / LOCK)  # OUT holds only the scan's outputs; unlinked while still locked
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
