"""report.html carries a strict Content-Security-Policy: nothing is fetched, no script runs; inline
style only (the report's CSS and column widths).  A file name with markup stays text."""
import io
import re
import tarfile

from firmpass.context import ScanOptions
from firmpass.pipeline import scan


def test_report_has_strict_csp_and_no_script(tmp_path):
    img = tmp_path / "x.tar"
    with tarfile.open(img, "w") as t:
        for name, data in (("etc/passwd", b"root::0:0::/root:/bin/sh\n"),
                           ("etc/<script>alert(1)</script>.key", b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    scan(img, tmp_path / "out", ScanOptions(pdf=False, progress=False))
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    head = html[: html.index("</head>")]
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', head)
    assert m and head.index(m.group(0)) < head.index("<style>")
    policy = dict((d.split()[0], d.split()[1:]) for d in m.group(1).split(";") if d.strip())
    assert policy["default-src"] == ["'none'"] and policy["script-src"] == ["'none'"]
    assert policy["style-src"] == ["'unsafe-inline'"] and policy["base-uri"] == ["'none'"]
    assert "<script" not in html.lower()
