#!/usr/bin/env bash
# More filesystems and archives, from the same rootfs/ (runs after build.sh with OUT set):
#   rootfs.cramfs / rootfs-be.cramfs   cramfs little- and big-endian (util-linux mkfs.cramfs, -N big)
#   rootfs.romfs                       ROMFS (genromfs)
#   etc.7z                             7-Zip of /etc, symlinks stored as links (7zz -snl)
#   rar/*.rar                          real RAR 4 and RAR 5 archives: the test files of the `rarfile`
#                                      package's source distribution (PyPI, fetched with pip download;
#                                      nothing in Debian main writes RAR).  Skipped when offline.
#   vendorfs.json                        provenance of the fetched files
set -euo pipefail
OUT=${OUT:?}
cd "$OUT"
R=rootfs
rm -f rootfs.cramfs rootfs-be.cramfs rootfs.romfs etc.7z
# a missing writer (make deps installs them: util-linux, genromfs, 7zip) leaves its image out; the
# tests that need it skip and say why
have() { command -v "$1" >/dev/null || { echo "build-vendorfs.sh: $1 not installed, its images are skipped" >&2; false; }; }
CRAMFS=$(command -v mkfs.cramfs || echo /sbin/mkfs.cramfs)
if [ -x "$CRAMFS" ]; then
  "$CRAMFS" -n acme-rootfs "$R" rootfs.cramfs >/dev/null
  "$CRAMFS" -N big -n acme-rootfs "$R" rootfs-be.cramfs >/dev/null
fi
if have genromfs; then genromfs -d "$R" -f rootfs.romfs -V acme-rootfs; fi
if have 7zz; then (cd "$R" && 7zz a -snl -bd -mx=5 ../etc.7z etc >/dev/null); fi
rm -rf rar rar-sdist && mkdir -p rar
rar_src=none
if PIP_DISABLE_PIP_VERSION_CHECK=1 timeout 120 python3 -m pip download -q --no-deps --no-binary :all: \
     rarfile==4.2 -d rar-sdist >/dev/null 2>&1; then
  sd=$(ls rar-sdist/rarfile-4.2.tar.gz)
  tar -xzf "$sd" -C rar --strip-components=3 --wildcards 'rarfile-4.2/test/files/*.rar'
  rar_src="pypi:rarfile-4.2.tar.gz sha256=$(sha256sum "$sd" | cut -d' ' -f1)"
fi
rm -rf rar-sdist
printf '{"rar": "%s"}\n' "$rar_src" > vendorfs.json
ls -la rootfs.cramfs rootfs-be.cramfs rootfs.romfs etc.7z >&2 || true
