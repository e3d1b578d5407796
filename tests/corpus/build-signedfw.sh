#!/usr/bin/env bash
# Adds two vendor images whose boot chain can be checked end to end:
#   firmware-signed.bin           vendor header | UBOT: a stand-in U-Boot with its control DTB appended
#                                 (as CONFIG_OF_SEPARATE builds ship it, carrying the FIT public key)
#                                 | BOOT: the signed FIT (kernel + fdt + squashfs rootfs)
#   firmware-signed-tampered.bin  the same with one byte of the FIT's kernel payload flipped
# and signedfw.json with the secure-boot verdict each must get.
set -euo pipefail
OUT=${OUT:?}
cd "$OUT"
python3 - <<'PY'
import json, struct, zlib

ALIGN = 0x10000


def vendor_image(parts):
    """Same made-up vendor layout as build.sh's firmware.bin."""
    table, body, off = b"", b"", ALIGN
    for tag, blob in parts:
        table += tag + struct.pack("<III", off, len(blob), zlib.crc32(blob))
        pad = (-len(blob)) % ALIGN
        body += blob + b"\xff" * pad
        off += len(blob) + pad
    fixed = (b"ACMEFW\x01\x00" + struct.pack("<HH", 1, len(parts)) + b"R1000S".ljust(32, b"\0")
             + b"1.0.1".ljust(16, b"\0") + struct.pack("<I", 20231201))
    hdr = fixed + struct.pack("<I", zlib.crc32(fixed + table)) + table
    return hdr + b"\xff" * (ALIGN - len(hdr)) + body


uboot = b"U-Boot 2023.01 stand-in bootloader for the firmpass corpus\0".ljust(0x4000, b"\0")
uboot += open("u-boot-pubkey.dtb", "rb").read()
fit = open("fit-signed.itb", "rb").read()
kernel = open("kernel.gz", "rb").read()
at = fit.find(kernel[:4096])
assert at > 0, "kernel payload not found in the FIT"
tampered = bytearray(fit)
tampered[at + len(kernel) // 2] ^= 0x01
open("firmware-signed.bin", "wb").write(vendor_image([(b"UBOT", uboot), (b"BOOT", fit)]))
open("firmware-signed-tampered.bin", "wb").write(vendor_image([(b"UBOT", uboot), (b"BOOT", bytes(tampered))]))
json.dump({"firmware-signed.bin": {"secure_boot": "verified"},
           "firmware-signed-tampered.bin": {"secure_boot": "signature_invalid",
                                            "flipped_offset_in_fit": at + len(kernel) // 2}},
          open("signedfw.json", "w"), indent=1)
PY
ls -l firmware-signed.bin firmware-signed-tampered.bin >&2
