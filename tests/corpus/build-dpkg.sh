#!/usr/bin/env bash
# Adds rootfs-dpkg.sqfs: the same rootfs with a dpkg status database, as a Debian-based device has
# (the base images have none, like most Buildroot/OpenWrt devices).  Ground truth for package-db
# identification and for "fixed in the distro revision" VEX decisions.
set -euo pipefail
OUT=${OUT:?}
python3 - "$OUT" <<'PY'
import os, subprocess, sys
out = sys.argv[1]
stanzas = []
for line in open(os.path.join(out, "packages.txt")):
    name, deb = line.split()
    fields = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, check=True).stdout
    keep, cur = [], None
    for l in fields.splitlines():
        if l[:1] in (" ", "\t"):
            if cur in ("Package", "Version", "Source", "Architecture", "Maintainer", "Depends", "Pre-Depends", "Description", "Homepage", "Multi-Arch"):
                keep.append(l)
            continue
        cur = l.split(":", 1)[0]
        if cur == "Package":
            keep.append(l); keep.append("Status: install ok installed")
        elif cur in ("Version", "Source", "Architecture", "Maintainer", "Depends", "Pre-Depends", "Description", "Homepage", "Multi-Arch", "Installed-Size", "Section", "Priority"):
            keep.append(l)
    stanzas.append("\n".join(keep))
os.makedirs(os.path.join(out, "rootfs-dpkg/var/lib/dpkg"), exist_ok=True)
open(os.path.join(out, "rootfs-dpkg/var/lib/dpkg/status"), "w").write("\n\n".join(stanzas) + "\n")
PY
rm -f "$OUT/rootfs-dpkg.sqfs"
mkdir -p "$OUT/.dpkgtmp"
cp -a "$OUT/rootfs/." "$OUT/.dpkgtmp/"
cp -a "$OUT/rootfs-dpkg/var/." "$OUT/.dpkgtmp/var/"
mksquashfs "$OUT/.dpkgtmp" "$OUT/rootfs-dpkg.sqfs" -comp xz -all-root -noappend -no-progress >/dev/null
rm -rf "$OUT/.dpkgtmp" "$OUT/rootfs-dpkg"
echo "rootfs-dpkg.sqfs: $(stat -c %s "$OUT/rootfs-dpkg.sqfs") bytes" >&2
