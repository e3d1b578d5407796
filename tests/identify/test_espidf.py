"""ESP-IDF from the app description of a real ESP32 app image (issue 12, point 2).

The bytes are the first 0x1000 bytes of esp32-deauth 0.3.3's esp32-wifi-penetration-tool.bin (PyPI;
tests/fixtures/identify/espidf/README.md): image header, first segment header, esp_app_desc_t."""
from __future__ import annotations

import shutil

from firmpass.identify import espidf, identify
from firmpass.pipeline import scan
from tests.treectx import context_from_tree

CPE = "cpe:2.3:o:espressif:esp-idf:4.1:*:*:*:*:*:*:*"


def _head(fixtures) -> bytes:
    return (fixtures / "identify" / "espidf" / "esp32-wifi-penetration-tool.head.bin").read_bytes()


def test_app_description_of_a_real_image(fixtures):
    data = _head(fixtures)
    assert espidf.looks_like_app(data)
    [d] = espidf.app_descs(data)
    assert (d.offset, d.idf_ver, d.idf_release) == (0, "v4.1-dirty", "4.1")
    assert (d.project, d.app_version, d.date) == ("esp32-wifi-penetration-tool", "v1.0-7-ge346e28", "Jun 20 2025")


def test_app_inside_a_flash_dump_and_truncated_or_unreleased_descriptions(fixtures):
    data = _head(fixtures)
    # the app at its usual partition offset of a whole-flash dump (0x10000), after erased flash
    [d] = espidf.app_descs(b"\xff" * 0x10000 + data)
    assert (d.offset, d.idf_release) == (0x10000, "4.1")
    assert espidf.app_descs(data[:0x80]) == []  # cut inside the description: nothing, no error
    assert espidf.app_descs(b"\x00" * 0x20 + data[0x20:]) == []  # no image header before it
    # the real description with idf_ver rewritten to a build past a tag: no release named
    past_tag = data[:0x90] + b"v4.4-123-gabcdef1".ljust(32, b"\0") + data[0xB0:]
    [d] = espidf.app_descs(past_tag)
    assert (d.idf_ver, d.idf_release) == ("v4.4-123-gabcdef1", None)


def test_identify_names_esp_idf_in_an_image_no_handler_opens(fixtures, tmp_path):
    img = tmp_path / "esp32-wifi-penetration-tool.bin"
    img.write_bytes(_head(fixtures))
    ctx = scan(img, tmp_path / "out", stages=["unpack", "inventory", "identify"])
    [c] = [c for c in ctx.result.components if c.name == "ESP-IDF"]
    assert (c.version, c.cpe, c.type) == ("4.1", CPE, "operating-system")
    assert c.purl == "pkg:generic/espressif/esp-idf@4.1"
    ev = c.evidence[0]
    assert ev.method == "esp-app-desc" and ev.path == f"/{img.name}" and "idf_ver=v4.1-dirty" in ev.match
    assert c.properties["esp_app_project"] == "esp32-wifi-penetration-tool"


def test_identify_names_esp_idf_for_an_app_image_in_a_filesystem(fixtures, tmp_path):
    root = tmp_path / "root"
    (root / "lib" / "firmware").mkdir(parents=True)
    shutil.copyfile(fixtures / "identify" / "espidf" / "esp32-wifi-penetration-tool.head.bin",
                    root / "lib" / "firmware" / "esp32.bin")
    comps = identify(context_from_tree(root, tmp_path / "out"), use_package_db=False)
    [c] = [c for c in comps if c.name == "ESP-IDF"]
    assert (c.version, c.cpe) == ("4.1", CPE)
    assert c.evidence[0].path == "/lib/firmware/esp32.bin" and c.files == ["/lib/firmware/esp32.bin"]


def test_esp_idf_in_an_app_image_an_unpack_handler_opened(fixtures, tmp_path):
    """A real ESP32 app carries gzip-compressed web pages: the unpack stage opens such an image (a carved
    stream behind a vendor header) and the app description is then read from the image itself.  Here the
    real head followed by a gzip stream of the same bytes."""
    import gzip

    data = _head(fixtures)
    img = tmp_path / "app.bin"
    img.write_bytes(data + gzip.compress(data * 4) + b"\xff" * 512)
    ctx = scan(img, tmp_path / "out", stages=["unpack", "inventory", "identify"])
    [c] = [c for c in ctx.result.components if c.name == "ESP-IDF"]
    assert (c.version, c.cpe) == ("4.1", CPE) and c.evidence[0].path == "/app.bin" and c.evidence[0].container == "0"
