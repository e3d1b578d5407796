#!/usr/bin/env bash
# Adds extra-rootfs/: real Debian 12 binaries unpacked with no package database, as most vendor firmware
# ships them: programs that print their version with printf("%s") (socat, wget, GNU inetutils
# telnetd/ftpd) and network daemons / libraries of the kind routers and cameras carry;
# and extra-rootfs.json: each package's upstream version from its own control file (dpkg-deb -f).
# Identification must find each one at its exact version from the binary alone (issue 12).
set -euo pipefail
OUT=${OUT:?}
W=${W:-$OUT/../work}
DEBS=$W/debs
mkdir -p "$DEBS"
PKGS=(socat wget inetutils-telnetd inetutils-ftpd
      # network daemons, TLS and libraries of the kind embedded firmware ships (issue 12's list)
      vsftpd proftpd-core openvpn strongswan-charon libstrongswan xl2tpd ppp pppoe wireguard-tools mosquitto
      libmosquitto1 lldpd snmpd libsnmp40 avahi-daemon libavahi-core7 libavahi-common3 tinyproxy-bin mini-httpd
      libmbedcrypto7 libwolfssl35 libupnp13 libjson-c5 libexpat1 libxml2 libpcap0.8 sqlite3 libsqlite3-0 lua5.4
      liblua5.4-0
      # libraries whose only version evidence is their file name (identify/rules/soname-releases.yaml)
      libbsd0 libmd0 libwrap0 libseccomp2)
rm -rf "$OUT/extra-rootfs"; mkdir -p "$OUT/extra-rootfs"
: > "$OUT/extra-rootfs.txt"
for p in "${PKGS[@]}"; do
  f=$(ls "$DEBS"/"${p}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$f" ]; then (cd "$DEBS" && apt-get download "$p" >/dev/null 2>&1) || { echo "apt-get download $p failed" >&2; exit 1; }
    f=$(ls "$DEBS"/"${p}"_*.deb | head -1); fi
  dpkg-deb -x "$f" "$OUT/extra-rootfs"
  echo "$p $f" >> "$OUT/extra-rootfs.txt"
done
rm -rf "$OUT/extra-rootfs/usr/share"  # documentation: not what a device ships
python3 - "$OUT" <<'PY'
import json, subprocess, sys
out = sys.argv[1]
pk = []
for line in open(f"{out}/extra-rootfs.txt"):
    name, deb = line.split()
    f = lambda k: subprocess.run(["dpkg-deb", "-f", deb, k], capture_output=True, text=True, check=True).stdout.strip()
    pk.append({"package": name, "version": f("Version"), "source": (f("Source") or name).split()[0]})
json.dump({"packages": pk}, open(f"{out}/extra-rootfs.json", "w"), indent=1)
PY
