"""Every SBOM firmpass writes is valid: CycloneDX 1.6 against the strict schema, SPDX 2.3 through
spdx-tools, and firmpass's own `sbom check` finds no mandatory field missing (issue 12).

Licences come from real Debian copyright files (those of the corpus' .deb packages), whose DEP-5 short
names are often not SPDX ids as written (BSD-3-clause, GPL-3+, GFDL-1.3+, Wietse)."""
from __future__ import annotations

import json
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from firmpass import sbom
from firmpass.sbom.check import check_sbom
from firmpass.sbom.licenses import classify
from tests.treectx import context_from_tree

pytestmark = pytest.mark.corpus


def _debs(corpus: Path) -> list[tuple[str, Path]]:
    from tests.identify.truth import _deb_path

    out = []
    for line in (corpus / "packages.txt").read_text().splitlines():
        if line.strip():
            name, rec = line.split()
            p = _deb_path(corpus, rec)
            if p is not None:
                out.append((name, p))
    return out


@pytest.fixture(scope="module")
def dpkg_tree(corpus, tmp_path_factory) -> Path:
    """A root holding what a Debian-based device keeps of its packages: the dpkg status (the packages'
    real control fields) and each package's real /usr/share/doc/<package>/copyright."""
    root = tmp_path_factory.mktemp("dpkgroot")
    stanzas = []
    for name, deb in _debs(Path(corpus)):
        ctl = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
        lines = ctl.rstrip("\n").splitlines()
        stanzas.append("\n".join([lines[0], "Status: install ok installed", *lines[1:]]))
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=BytesIO(tar)) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.endswith(f"/usr/share/doc/{name}/copyright"):
                    dest = root / "usr" / "share" / "doc" / name / "copyright"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(t.extractfile(m).read())
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text("\n\n".join(stanzas) + "\n")
    return root


def test_dep5_names_become_spdx_ids_or_names():
    assert classify("BSD-3-clause") == ("id", "BSD-3-Clause")
    assert classify("GPL-3+") == ("id", "GPL-3.0-or-later")
    assert classify("GFDL-1.3+") == ("id", "GFDL-1.3-or-later")
    assert classify("LGPL-2.1") == ("id", "LGPL-2.1-only")
    assert classify("Expat") == ("id", "MIT")
    assert classify("Wietse") == ("name", "Wietse")
    assert classify("GPL-2+ or BSD-3-clause") == ("expression", "GPL-2.0-or-later OR BSD-3-Clause")
    assert classify("GPL-2+ with Autoconf exception")[0] == "name"


def test_sbom_with_real_debian_copyright_licences_validates_strictly(dpkg_tree, tmp_path):
    from firmpass import identify

    ctx = context_from_tree(dpkg_tree, tmp_path / "out")
    identify.run(ctx)
    lic = {x for c in ctx.result.components for x in c.licenses}
    # the copyright files do carry the names that are not SPDX ids as written
    assert {"BSD-3-clause", "GPL-3+", "Expat"} <= lic, sorted(lic)
    sbom.run(ctx)
    text = (ctx.out / "sbom.cdx.json").read_text()
    assert sbom.validate_cyclonedx(text) == []
    doc = json.loads(text)
    ids = {x["license"]["id"] for c in doc["components"] for x in c.get("licenses", []) if "id" in x.get("license", {})}
    names = {x["license"]["name"] for c in doc["components"] for x in c.get("licenses", []) if "name" in x.get("license", {})}
    assert "BSD-3-Clause" in ids and "BSD-3-clause" not in ids and "MIT" in ids
    assert not any(n in ids for n in ("GPL-3+", "Wietse", "Expat"))
    assert names  # the non-SPDX ones travel as names, not dropped
    assert sbom.validate_spdx(sbom.build_spdx(ctx.result)) == []


IMAGES = ["firmware.bin", "fit-signed.itb", "fit.itb", "initramfs.cpio.gz", "kernel.bin", "rootfs-gzip.sqfs",
          "rootfs-xz.sqfs", "rootfs.jffs2", "rootfs.ubi", "rootfs.ubifs", "uImage-kernel", "uImage-multi",
          "rootfs-dpkg.sqfs"]


@pytest.mark.parametrize("image", IMAGES)
def test_every_corpus_image_sbom_is_valid(image, corpus, tmp_path):
    pytest.importorskip("firmpass.unpack")
    from firmpass.pipeline import scan

    img = Path(corpus) / image
    assert img.is_file(), image
    ctx = scan(img, tmp_path / "out", stages=["unpack", "inventory", "identify", "sbom"])
    cdx = ctx.out / "sbom.cdx.json"
    assert sbom.validate_cyclonedx(cdx.read_text()) == []
    assert sbom.validate_spdx(sbom.build_spdx(ctx.result)) == []
    for p in (cdx, ctx.out / "sbom.spdx.json"):
        rep = check_sbom(p)
        mandatory = [f["id"] for f in rep["fields"] if f["missing"] and f["status"] in ("required", "if-exists")]
        assert mandatory == [], (p.name, [f for f in rep["fields"] if f["missing"]])


def test_sbom_check_exit_code(tmp_path, capsys, corpus):
    """`firmpass sbom check` exits 1 when a mandatory field is missing, 0 on firmpass's own SBOM."""
    from firmpass.cli import main

    poor = tmp_path / "poor.cdx.json"
    poor.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                                "components": [{"type": "library", "name": "libfoo", "bom-ref": "a"}]}))
    for extra in ([], ["--json"]):
        with pytest.raises(SystemExit) as e:
            main(["sbom", "check", str(poor), *extra])
        assert e.value.code == 1
    capsys.readouterr()
    own = tmp_path / "own.cdx.json"
    main(["sbom", str(Path(corpus) / "uImage-kernel"), "-o", str(own)])
    try:
        main(["sbom", "check", str(own)])
    except SystemExit as e:  # typer may end with SystemExit(0)
        assert e.code in (0, None)
