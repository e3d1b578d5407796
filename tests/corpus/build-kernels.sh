#!/usr/bin/env bash
# Adds real Linux kernel images, one per payload compressor (runs after build.sh with OUT set):
#   kernels/zImage-xz         Debian's armmp ARM zImage as shipped (real, XZ payload)
#   kernels/zImage-marvell-xz Debian's marvell ARM zImage as shipped (real, XZ payload)
#   kernels/Image-arm64       Debian's arm64 kernel as shipped (real, uncompressed Image)
#   kernels/vmlinux-arm       the armmp zImage's decompressed kernel (a raw image)
#   kernels/zImage-{gzip,lzma,lzo,lz4,zstd,bzip2}
#                             that same real decompressed kernel recompressed with each other compressor
#                             the kernel offers, behind the real zImage's own decompressor stub (the
#                             bytes before its XZ payload); Debian ships no kernel built with them
#   kernels/uImage-{lzo,lz4}  the lzo / lz4 payloads in a legacy U-Boot image (mkimage -C)
#   kernels/modules/lib/modules/<release>/kernel/drivers/net/mii.ko   a real module of that kernel
#   kernels/kernels.json      per file: compressor, expected upstream version, whether recompressed
# The x86 bzImage of build.sh (kernel.bin) is Debian's own LZ4 payload.  Nothing is executed: the XZ
# payload of the ARM zImage is found by the XZ magic (the first occurrence that decodes) and decompressed by Python's lzma, whose
# integrity check proves the whole stream was read.
# ARM packages come from a private apt state under $W (the machine's apt configuration is not changed).
set -euo pipefail
OUT=${OUT:?}
W=${W:-$OUT/../work}
A=$W/apt-kernels
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/debs" "$OUT/kernels"
cat > "$A/sources.list" <<'SRC'
deb [arch=armhf,arm64,armel signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
SRC
APTO=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$A/lists"
      -o Dir::Cache="$A/cache" -o APT::Architectures::=armhf -o APT::Architectures::=arm64 -o APT::Architectures::=armel
      -o Acquire::Languages=none)
if ! ls "$A"/debs/linux-image-*-armmp_*.deb >/dev/null 2>&1; then
  apt-get "${APTO[@]}" update >/dev/null
  pick() { apt-cache "${APTO[@]}" search --names-only "^linux-image-[0-9.]+-[0-9]+-$1\$" | awk '{print $1}' | sort -V | tail -1; }
  (cd "$A/debs" && apt-get "${APTO[@]}" download "$(pick armmp):armhf" "$(pick marvell):armel" "$(pick arm64):arm64" >/dev/null 2>&1)
fi
K=$OUT/kernels
x() { local deb=$1 out=$2 t; t=$(mktemp -d); dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$t" --wildcards './boot/vmlinuz-*'
      cp "$t"/boot/vmlinuz-* "$out"; rm -rf "$t"; }
x "$(ls "$A"/debs/linux-image-*-armmp_*.deb | head -1)" "$K/zImage-xz"
x "$(ls "$A"/debs/linux-image-*-marvell_*.deb | head -1)" "$K/zImage-marvell-xz"
x "$(ls "$A"/debs/linux-image-*-arm64_*.deb | head -1)" "$K/Image-arm64"
rm -rf "$K/modules"; mkdir -p "$K/modules"  # one real module of the armmp kernel (vermagic=)
dpkg-deb --fsys-tarfile "$(ls "$A"/debs/linux-image-*-armmp_*.deb | head -1)" | tar -x -C "$K/modules" --wildcards './lib/modules/*/kernel/drivers/net/mii.ko'
VERSION=$(dpkg-deb -f "$(ls "$A"/debs/linux-image-*-armmp_*.deb | head -1)" Version | sed 's/-.*//')
cd "$K"
python3 - "$VERSION" <<'PY'
import bz2, json, lzma, struct, subprocess, sys
version = sys.argv[1]
z = open("zImage-xz", "rb").read()
assert struct.unpack("<I", z[0x24:0x28])[0] == 0x016F2818, "not an ARM zImage"
at = z.find(b"\xfd7zXZ\x00")
while True:  # the stub may hold the magic as a constant: the payload is the occurrence that decodes whole
    d = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        vmlinux = d.decompress(z[at:])
        break
    except lzma.LZMAError:
        at = z.find(b"\xfd7zXZ\x00", at + 1)
        assert at > 0, "no XZ payload"
assert d.eof and b"Linux version " in vmlinux and b"Debian " + version.encode() in vmlinux, "the XZ payload is not the whole kernel"
open("vmlinux-arm", "wb").write(vmlinux)
stub = z[:at]
def tool(*cmd):
    return subprocess.run(cmd, input=vmlinux, stdout=subprocess.PIPE, check=True).stdout
payloads = {  # the commands the kernel's own Makefile.lib uses for CONFIG_KERNEL_*
    "gzip": tool("gzip", "-n", "-9"),
    "lzma": tool("xz", "--format=lzma", "-9"),
    "lzo": tool("lzop", "-9"),
    "lz4": tool("lz4", "-l", "-9"),
    "zstd": tool("zstd", "-22", "--ultra", "-q"),
    "bzip2": bz2.compress(vmlinux, 9),  # no bzip2 binary needed
}
truth = {"zImage-xz": {"compressor": "xz", "version": version, "recompressed": False},
         "zImage-marvell-xz": {"compressor": "xz", "version": version, "recompressed": False},
         "Image-arm64": {"compressor": "none", "version": version, "recompressed": False},
         "vmlinux-arm": {"compressor": "none", "version": version, "recompressed": False}}
for c, p in payloads.items():
    open(f"zImage-{c}", "wb").write(stub + p)
    truth[f"zImage-{c}"] = {"compressor": c, "version": version, "recompressed": True}
    if c in ("lzo", "lz4"):
        open(f"payload.{c}", "wb").write(p)
        subprocess.run(["mkimage", "-A", "arm", "-O", "linux", "-T", "kernel", "-C", c, "-a", "0x8000", "-e", "0x8000",
                        "-n", "acme kernel", "-d", f"payload.{c}", f"uImage-{c}"], check=True, stdout=subprocess.DEVNULL)
        truth[f"uImage-{c}"] = {"compressor": c, "version": version, "recompressed": True}
json.dump(truth, open("kernels.json", "w"), indent=1, sort_keys=True)
PY
rm -f payload.lzo payload.lz4
