"""B8: --timeout holds in carving (128 MiB of zeros: the magic search is windowed and checks the
deadline between windows), clean_path is linear (a 1 MiB name), and an archive of many empty entries
is bounded by time and --max-files."""
import subprocess
import sys
import time

from firmpass.unpack.engine import clean_path


def _cli(*args):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", *args], capture_output=True, text=True, timeout=600)
    return r, time.monotonic() - t0


def test_carving_zeros_honours_timeout(tmp_path):
    img = tmp_path / "zeros.bin"
    with open(img, "wb") as fh:
        fh.write(b"junk")
        fh.truncate(256 << 20)  # 256 MiB of zeros (sparse on disk)
    r, secs = _cli("unpack", str(img), "-o", str(tmp_path / "out"), "--timeout", "1")
    assert r.returncode == 2 and "--timeout" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert secs < 60  # was minutes: one uninterruptible regex over the whole blob


def test_carving_still_finds_parts_across_windows(tmp_path):
    import gzip
    import io
    import tarfile

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as t:
        ti = tarfile.TarInfo("etc/passwd")
        data = b"root::0:0::/root:/bin/sh\n"
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    gz = gzip.compress(inner.getvalue())
    img = tmp_path / "fw.bin"
    # the gzip magic straddles the 1 MiB window boundary of the scan
    img.write_bytes(b"\xa5" * ((1 << 20) - 1) + gz + b"\xa5" * 4096)
    r, _ = _cli("unpack", str(img), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "findings.json").read_text().count('"/etc/passwd"') == 1


def test_clean_path_is_linear():
    name = "a" * (1 << 20) + "/" + "é" * 300 + "/x"
    t0 = time.perf_counter()
    out = clean_path(name)
    assert time.perf_counter() - t0 < 2  # was 76 s (re-encoding the name once per dropped character)
    first, second, third = out.split("/")
    assert len(first) == 255 and len(second.encode()) <= 255 and second == "é" * 127 and third == "x"


def _newc(names) -> bytes:
    """A cpio (newc) archive of empty regular files, written directly (the layout is 110 ASCII bytes
    of header, the NUL-terminated name, padding to 4)."""
    out = bytearray()
    for i, name in enumerate(list(names) + [b"TRAILER!!!"]):
        n = name + b"\0"
        mode = 0o100644 if name != b"TRAILER!!!" else 0
        fields = [i + 1, mode, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(n), 0]
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += hdr + n
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def test_archive_of_empty_entries_is_bounded(tmp_path):
    img = tmp_path / "many.cpio"
    img.write_bytes(_newc(b"f%d" % i for i in range(200_000)))
    r, secs = _cli("unpack", str(img), "-o", str(tmp_path / "out"), "--max-files", "20000")
    assert r.returncode == 0, r.stderr
    assert "more than 20000 files" in r.stderr and secs < 300
    r, secs = _cli("unpack", str(img), "-o", str(tmp_path / "out2"), "--timeout", "1")
    assert "--timeout" in r.stderr and secs < 120
