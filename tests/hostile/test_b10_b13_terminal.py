"""B10: strings from an image never reach the terminal raw (ANSI escapes, newlines, carriage returns,
bidi overrides); B13: library errors reach the user as one line without heap addresses."""
import io
import subprocess
import sys
import tarfile

from firmpass.console import term_safe
from firmpass.i18n import clean_detail, exc_detail

FORGE = "\x1b[2J\x1b[1;1Hscan finished\nwarning: forged\r\x1b]0;title\x07\u202egnp.exe"


def test_term_safe_escapes_controls_keeps_text():
    s = term_safe(FORGE)
    assert s == ("\\x1b[2J\\x1b[1;1Hscan finished\\nwarning: forged\\r\\x1b]0;title\\x07\\u202egnp.exe")
    assert term_safe("固件 /etc/passwd  ok") == "固件 /etc/passwd  ok"
    assert term_safe("name\udcb9\udce2") == "name\\xb9\\xe2"  # undecodable bytes of a GBK name


def test_cli_warning_with_hostile_path_is_one_escaped_line(tmp_path):
    img = tmp_path / "x.tar"
    with tarfile.open(img, "w", format=tarfile.GNU_FORMAT) as t:
        for name, data in ((f"var/lib/{FORGE}/rpmdb.sqlite", b"this is not an sqlite database" * 10),
                           ("etc/passwd", b"root::0:0::/root:/bin/sh\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    r = subprocess.run([sys.executable, "-m", "firmpass.cli", "scan", str(img), "-o", str(tmp_path / "out"), "--no-pdf"],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    err, out = r.stderr.decode(), r.stdout.decode()
    for stream in (err, out):
        assert "\x1b" not in stream and "\r" not in stream and "\u202e" not in stream and "\x07" not in stream
        assert all(line.startswith(("warning: ", "scan finished:", "firmpass")) for line in stream.splitlines()), stream
    hostile = [l for l in err.splitlines() if "rpmdb.sqlite" in l]
    assert hostile and "\\x1b[2J" in hostile[0] and "\\nwarning: forged" in hostile[0]
    assert [l for l in out.splitlines() if l.startswith("scan finished")] and len(out.splitlines()) == 1


def test_library_errors_one_line_no_pointers():
    import libarchive
    from pydantic import BaseModel

    try:
        with libarchive.memory_reader(b"\x1f\x8b\x08\x00" + b"x" * 100) as a:
            for _ in a:
                pass
    except libarchive.ArchiveError as e:
        d = exc_detail(e)
        assert "archive_p" not in d and "\n" not in d and d.startswith("ArchiveError: ")

    class M(BaseModel):
        a: int
        b: str

    try:
        M(a="x", b=object())
    except Exception as e:  # noqa: BLE001
        d = exc_detail(e)
        assert "\n" not in d and "0x" not in d and "errors.pydantic.dev" not in d
        assert d == "ValidationError: a: Input should be a valid integer, unable to parse string as an integer; " \
                    "b: Input should be a valid string"
    assert clean_detail("bad <object object at 0x7f567474d9d0>\nsecond line") == "bad <object object>"
