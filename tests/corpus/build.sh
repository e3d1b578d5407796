#!/usr/bin/env bash
# tests/corpus/build.sh: build firmpass's test corpus, realistic embedded-Linux firmware images
# made from real, unmodified Debian 12 (bookworm) amd64 binaries, with ground truth.
# Run through tests/corpus/__init__.py (cached by a hash of this script) or by hand.
#
# Output (under $OUT):
#   rootfs/                      the device root filesystem (busybox-static init, dropbear, lighttpd, ...)
#   rootfs-xz.sqfs rootfs-gzip.sqfs   squashfs 4.0 LE, xz / gzip
#   rootfs.jffs2                 JFFS2 LE, 64 KiB erase blocks
#   initramfs.cpio.gz            newc cpio, gzip -9
#   rootfs.ubifs rootfs.ubi      UBIFS, wrapped in a UBI image (2 KiB pages, 128 KiB PEB)
#   uImage-kernel uImage-multi   legacy U-Boot images (kernel only / kernel+rootfs multi-file)
#   fit.itb fit-signed.itb       FIT image (kernel+fdt+rootfs), and the same signed with RSA-2048 (+ u-boot.dtb with pubkey)
#   firmware.bin                 made-up vendor container: header + uImage + squashfs + jffs2 + signed FIT
#   ground_truth.json            packages/versions (dpkg-deb -f), planted secrets/misconfigs, per-image sha256
#
# Needs (Debian): squashfs-tools mtd-utils u-boot-tools device-tree-compiler cpio openssl python3 (+ apt access)
# Env: W (work dir), KERNEL=real|fake (real = vmlinuz from linux-image-*-cloud-amd64, ~14 MB), SOURCE_DATE_EPOCH
set -euo pipefail

W=${W:-$PWD/corpus-work}
DEBS=$W/debs
OUT=${OUT:-$W/out}
ROOT=$OUT/rootfs
KERNEL=${KERNEL:-real}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
ARCH_LIBDIR=x86_64-linux-gnu

PKGS=(busybox-static dropbear-bin openssl libssl3 lighttpd dnsmasq-base curl libcurl4
      hostapd wpasupplicant miniupnpd-iptables)
# the newest signed cloud kernel the archive has (old ABIs leave the archive over time)
KERNEL_PKG=${KERNEL_PKG:-$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -1)}

log() { printf '\n== %s\n' "$*" >&2; }
need() { for t in "$@"; do command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 2; }; done; }
need apt-get dpkg-deb mksquashfs mkfs.jffs2 mkfs.ubifs ubinize mkimage dtc cpio openssl python3 readelf

mkdir -p "$DEBS"
rm -rf "$OUT"; mkdir -p "$OUT" "$ROOT"

# ---------------------------------------------------------------- 1. fetch + unpack
fetch() {  # fetch PKG -> path of .deb in $DEBS
  local p=$1 f
  f=$(ls "$DEBS"/"${p}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$f" ]; then (cd "$DEBS" && apt-get download "$p" >/dev/null 2>&1) || { echo "apt-get download $p failed" >&2; return 1; }
    f=$(ls "$DEBS"/"${p}"_*.deb | head -1); fi
  echo "$f"
}
log "fetch + unpack ${PKGS[*]}"
: > "$OUT/packages.txt"
for p in "${PKGS[@]}"; do
  f=$(fetch "$p"); dpkg-deb -x "$f" "$ROOT"; echo "$p $f" >> "$OUT/packages.txt"
done

# ---------------------------------------------------------------- 2. shared-library closure
# Follow the Depends: graph of what is already unpacked, but only add a lib* package when it
# ships a soname that some ELF in the rootfs actually DT_NEEDs (keeps systemd/perl/pam out).
log "resolve DT_NEEDED closure"
python3 - "$ROOT" "$DEBS" "$OUT/packages.txt" <<'PY'
import os, re, subprocess, sys, glob
root, debs, pkgfile = sys.argv[1:]
def elfs():
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p): continue
            with open(p, 'rb') as fh:
                if fh.read(4) == b'\x7fELF': yield p
def needed():
    want = set()
    for p in elfs():
        if '/gconv/' in p: continue          # glibc iconv modules: removed later, not needed on a device
        out = subprocess.run(['readelf', '-dW', p], capture_output=True, text=True).stdout
        want |= set(re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', out))
    return want
def have():
    s = set()
    for d in ('lib', 'usr/lib', 'lib64', f'lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'):
        for p in glob.glob(os.path.join(root, d, '*')): s.add(os.path.basename(p))
    return s
def deps_of(deb):
    dep = ' , '.join(subprocess.run(['dpkg-deb', '-f', deb, k], capture_output=True, text=True).stdout.strip()
                     for k in ('Depends', 'Pre-Depends'))
    out = []
    for item in re.split(r',\s*', dep.replace('\n', ' ')):
        item = item.split('|')[0].strip()
        m = re.match(r'([a-z0-9][a-z0-9+.-]+)', item)
        if m and m.group(1).startswith(('lib', 'zlib')): out.append(m.group(1))
    return out
def fetch(p):
    g = glob.glob(os.path.join(debs, p + '_*.deb'))
    if not g:
        subprocess.run(['apt-get', 'download', p], cwd=debs, capture_output=True)
        g = glob.glob(os.path.join(debs, p + '_*.deb'))
    return g[0] if g else None
installed = {l.split()[0]: l.split()[1] for l in open(pkgfile)}
tried = set()
for rnd in range(10):
    missing = needed() - have()
    if not missing: break
    cands = sorted({d for deb in installed.values() for d in deps_of(deb)} - set(installed) - tried)
    added = False
    for c in cands:
        tried.add(c)
        deb = fetch(c)
        if not deb: continue
        names = {os.path.basename(l.split(None, 5)[5].split(' -> ')[0]) for l in subprocess.run(['dpkg-deb', '-c', deb], capture_output=True, text=True).stdout.splitlines()}
        if names & missing:
            subprocess.run(['dpkg-deb', '-x', deb, root], check=True)
            installed[c] = deb; added = True
            with open(pkgfile, 'a') as fh: fh.write(f'{c} {deb}\n')
    if not added and not (set(cands) - tried): break
still = needed() - have()
print('closure: %d packages, unresolved sonames: %s' % (len(installed), sorted(still) or 'none'), file=sys.stderr)
PY

# ---------------------------------------------------------------- 3. make it look like a device
log "device layout"
cd "$ROOT"
rm -rf usr/lib/$ARCH_LIBDIR/gconv usr/share/doc usr/share/man usr/share/info usr/share/lintian usr/share/bug usr/share/locale \
       etc/init.d/* etc/default etc/logrotate.d lib/systemd usr/lib/systemd etc/systemd 2>/dev/null || true
# busybox applets as symlinks, never over a real binary
./bin/busybox --list-full | while read -r a; do
  [ -e "$a" ] || [ -L "$a" ] && continue
  mkdir -p "$(dirname "$a")"; ln -s /bin/busybox "$a"
done
mkdir -p dev proc sys tmp var/log var/run root home/admin etc/init.d etc/config etc/ssl/private etc/ssl/certs \
         etc/dropbear www/cgi-bin mnt/data overlay
chmod 1777 tmp; chmod 700 root
mknod -m 600 dev/console c 5 1 2>/dev/null || true
mknod -m 666 dev/null c 1 3 2>/dev/null || true
mknod -m 660 dev/ttyS0 c 4 64 2>/dev/null || true
mknod -m 666 dev/urandom c 1 9 2>/dev/null || true
mknod -m 666 dev/random c 1 8 2>/dev/null || true

ROOT_PW=admin; ADMIN_PW=1234
ROOT_HASH=$(openssl passwd -1 -salt acme1234 "$ROOT_PW")      # MD5-crypt ($1$): weak, typical for firmware
ADMIN_HASH=$(openssl passwd -6 -salt acmeSALT "$ADMIN_PW")     # SHA-512-crypt
cat > etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
admin:x:0:0:Vendor Admin:/home/admin:/bin/sh
support:x:1000:1000:support:/home/support:/bin/sh
www-data:x:33:33:www-data:/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > etc/shadow <<EOF
root:${ROOT_HASH}:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
admin:${ADMIN_HASH}:19000:0:99999:7:::
support::19000:0:99999:7:::
www-data:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 600 etc/shadow
printf 'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nsupport:x:1000:\nnogroup:x:65534:\n' > etc/group
echo acme-r1000 > etc/hostname
cat > etc/os-release <<'EOF'
NAME="AcmeOS"
VERSION="1.0.0 (build 20231114)"
ID=acmeos
PRETTY_NAME="AcmeOS 1.0.0"
EOF
echo "R1000 1.0.0 20231114" > etc/version

cat > etc/inittab <<'EOF'
::sysinit:/etc/init.d/rcS
ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100
::respawn:/sbin/syslogd -n -R logs.acme-cloud.example:514
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
cat > etc/init.d/rcS <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
for s in /etc/init.d/S??*; do [ -x "$s" ] && "$s" start; done
EOF
cat > etc/init.d/S40network <<'EOF'
#!/bin/sh
ifconfig lo 127.0.0.1 up
udhcpc -b -i eth0 -s /usr/share/udhcpc/default.script
/usr/sbin/dnsmasq -C /etc/dnsmasq.conf
/usr/sbin/hostapd -B /etc/hostapd.conf
EOF
cat > etc/init.d/S50remote <<'EOF'
#!/bin/sh
# remote access for field support
/usr/sbin/telnetd -l /bin/sh -p 23
[ -f /etc/dropbear/dropbear_rsa_host_key ] || dropbearkey -t rsa -f /etc/dropbear/dropbear_rsa_host_key
/usr/sbin/dropbear -r /etc/dropbear/dropbear_rsa_host_key -p 22
EOF
cat > etc/init.d/S60web <<'EOF'
#!/bin/sh
/usr/sbin/lighttpd -f /etc/lighttpd/lighttpd.conf
/usr/sbin/miniupnpd -f /etc/miniupnpd/miniupnpd.conf
EOF
chmod 755 etc/init.d/rcS etc/init.d/S*
cat > etc/syslog.conf <<'EOF'
# forward everything to the vendor cloud
*.*    @logs.acme-cloud.example:514
*.*    @@198.51.100.7:6514
kern.* /var/log/kern.log
EOF
mkdir -p etc/lighttpd etc/miniupnpd
cat > etc/lighttpd/lighttpd.conf <<'EOF'
server.document-root = "/www"
server.port = 80
server.username = "root"
server.modules = ( "mod_cgi", "mod_auth" )
cgi.assign = ( ".cgi" => "/bin/sh" )
auth.backend = "plain"
auth.backend.plain.userfile = "/etc/lighttpd/.htpasswd"
EOF
echo "admin:admin" > etc/lighttpd/.htpasswd
cat > etc/dnsmasq.conf <<'EOF'
interface=br-lan
dhcp-range=192.168.1.100,192.168.1.200,12h
EOF
cat > etc/hostapd.conf <<'EOF'
interface=wlan0
ssid=ACME-R1000
wpa=2
wpa_key_mgmt=WPA-PSK
wpa_passphrase=acme-default-wifi-2023
wps_state=2
ap_pin=12345670
EOF
cat > etc/miniupnpd/miniupnpd.conf <<'EOF'
ext_ifname=eth0
listening_ip=br-lan
secure_mode=no
allow 0-65535 0.0.0.0/0 0-65535
EOF
cat > etc/config/cloud.conf <<'EOF'
# ACME cloud connector
[cloud]
endpoint = https://api.acme-cloud.example/v2
api_token = acme_live_4f9c2b7e8d1a6f3b0c5e9d2a7b4f8e1c
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
mqtt_password = Mqtt!Passw0rd
EOF
cat > www/index.html <<'EOF'
<html><body><h1>ACME R1000</h1><form action="/cgi-bin/login.cgi">user <input name=u> pass <input name=p type=password></form></body></html>
EOF
cat > www/cgi-bin/ping.cgi <<'EOF'
#!/bin/sh
echo "Content-type: text/plain"; echo
ping -c 1 $(echo "$QUERY_STRING" | sed 's/.*ip=//')
EOF
chmod 755 www/cgi-bin/ping.cgi

# keys: TLS private key + self-signed cert, EC key, OpenSSH user key, dropbear host key
openssl genrsa -out etc/ssl/private/server.key 2048 2>/dev/null
openssl req -new -x509 -key etc/ssl/private/server.key -out etc/ssl/certs/server.crt -days 3650 \
  -subj "/C=US/O=ACME Corp/CN=acme-r1000.local" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out etc/config/device_ec.pem 2>/dev/null
mkdir -p root/.ssh
if command -v ssh-keygen >/dev/null; then
  ssh-keygen -q -t ed25519 -N '' -C 'support@acme' -f root/.ssh/id_ed25519
  cp root/.ssh/id_ed25519.pub root/.ssh/authorized_keys
fi
# dropbearkey from the rootfs itself, run through the rootfs' own dynamic loader
LDSO=$(ls lib64/ld-linux-x86-64.so.2 2>/dev/null || ls lib/$ARCH_LIBDIR/ld-linux-x86-64.so.2)
"$ROOT/$LDSO" --library-path "$ROOT/lib/$ARCH_LIBDIR:$ROOT/usr/lib/$ARCH_LIBDIR" \
  "$ROOT/usr/bin/dropbearkey" -t rsa -s 2048 -f etc/dropbear/dropbear_rsa_host_key >/dev/null 2>&1 \
  && echo "dropbearkey ran from rootfs" >&2 || echo "dropbearkey could not run (ok)" >&2
cd "$OUT"

# ---------------------------------------------------------------- 4. kernel blob + DTB
log "kernel blob"
if [ "$KERNEL" = real ]; then
  kd=$(fetch "$KERNEL_PKG"); rm -rf "$OUT/k"; mkdir -p "$OUT/k"
  dpkg-deb --fsys-tarfile "$kd" | tar -x -C "$OUT/k" --wildcards './boot/vmlinuz-*'
  cp "$OUT"/k/boot/vmlinuz-* kernel.bin; rm -rf "$OUT/k"
else
  { printf 'Linux version 5.4.0-acme (builder@acme) (gcc version 9.3.0) #1 SMP PREEMPT\n'; head -c 2000000 /dev/urandom; } > kernel.bin
fi
cat > board.dts <<'EOF'
/dts-v1/;
/ { model = "ACME R1000"; compatible = "acme,r1000"; #address-cells = <1>; #size-cells = <1>;
    memory@0 { device_type = "memory"; reg = <0x0 0x8000000>; };
    chosen { bootargs = "console=ttyS0,115200 root=/dev/mtdblock2 rootfstype=squashfs"; }; };
EOF
dtc -q -I dts -O dtb -o board.dtb board.dts
printf '/dts-v1/;\n/ { model = "ACME R1000 U-Boot"; compatible = "acme,r1000"; };\n' > u-boot.dts
dtc -q -I dts -O dtb -o u-boot.dtb u-boot.dts

# ---------------------------------------------------------------- 5. filesystem images
log "filesystem images"
mksquashfs "$ROOT" rootfs-xz.sqfs   -comp xz   -all-root -noappend -no-progress >/dev/null  # honours SOURCE_DATE_EPOCH
mksquashfs "$ROOT" rootfs-gzip.sqfs -comp gzip -all-root -noappend -no-progress >/dev/null  # honours SOURCE_DATE_EPOCH
mkfs.jffs2 -r "$ROOT" -o rootfs.jffs2 -e 0x10000 -l -n --squash-uids 2>/dev/null
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -9n > initramfs.cpio.gz
mkfs.ubifs -r "$ROOT" -m 2048 -e 126976 -c 2048 -x zlib -o rootfs.ubifs
cat > ubinize.cfg <<'EOF'
[rootfs]
mode=ubi
image=rootfs.ubifs
vol_id=0
vol_type=dynamic
vol_name=rootfs
vol_flags=autoresize
EOF
ubinize -o rootfs.ubi -m 2048 -p 128KiB -s 512 -O 2048 ubinize.cfg

# ---------------------------------------------------------------- 6. U-Boot images
log "uImage / FIT / signed FIT"
gzip -9nc kernel.bin > kernel.gz
mkimage -A x86_64 -O linux -T kernel -C gzip -a 0x100000 -e 0x100000 -n "Linux-acme-r1000" -d kernel.gz uImage-kernel >/dev/null
mkimage -A x86_64 -O linux -T multi -C none -a 0x100000 -e 0x100000 -n "acme-r1000 kernel+rootfs" \
  -d kernel.gz:rootfs-xz.sqfs uImage-multi >/dev/null
cat > fit.its <<'EOF'
/dts-v1/;
/ {
  description = "ACME R1000 firmware 1.0.0";
  #address-cells = <1>;
  images {
    kernel-1 { description = "Linux kernel"; data = /incbin/("kernel.gz"); type = "kernel"; arch = "x86_64";
               os = "linux"; compression = "gzip"; load = <0x100000>; entry = <0x100000>;
               hash-1 { algo = "sha256"; }; };
    fdt-1    { description = "board dtb"; data = /incbin/("board.dtb"); type = "flat_dt"; arch = "x86_64";
               compression = "none"; hash-1 { algo = "sha256"; }; };
    rootfs-1 { description = "squashfs rootfs"; data = /incbin/("rootfs-xz.sqfs"); type = "ramdisk"; arch = "x86_64";
               os = "linux"; compression = "none"; hash-1 { algo = "sha256"; }; };
  };
  configurations {
    default = "conf-1";
    conf-1 { description = "default"; kernel = "kernel-1"; fdt = "fdt-1"; ramdisk = "rootfs-1";
             signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; sign-images = "kernel", "fdt", "ramdisk"; };
    };
  };
};
EOF
sed '/signature-1/d' fit.its > fit-unsigned.its
mkimage -f fit-unsigned.its fit.itb >/dev/null
mkdir -p keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out keys/dev.key 2>/dev/null
openssl req -batch -new -x509 -key keys/dev.key -out keys/dev.crt -subj "/CN=acme-fit-dev" 2>/dev/null
cp u-boot.dtb u-boot-pubkey.dtb
mkimage -f fit.its -k keys -K u-boot-pubkey.dtb -r fit-signed.itb >/dev/null
if command -v fit_check_sign >/dev/null; then
  fit_check_sign -f fit-signed.itb -k u-boot-pubkey.dtb >/dev/null 2>&1 && echo "fit_check_sign: OK" >&2 || echo "fit_check_sign: FAILED" >&2
fi

# ---------------------------------------------------------------- 7. vendor container
log "firmware.bin"
python3 - <<'PY'
import struct, zlib, hashlib
# made-up header: "ACMEFW\x01\x00" | hdr_ver u16 | n_sections u16 | model[32] | version[16] | build u32 | hdr_crc u32
# then n * (type[4] | offset u32 | size u32 | crc32 u32), then sections, each aligned to 64 KiB with 0xFF
parts = [(b"KERN", "uImage-kernel"), (b"ROOT", "rootfs-xz.sqfs"), (b"DATA", "rootfs.jffs2"), (b"BOOT", "fit-signed.itb")]
ALIGN = 0x10000
blobs = [(t, open(f, "rb").read()) for t, f in parts]
hdr_len = 8 + 4 + 32 + 16 + 4 + 4 + len(blobs) * 16
off = ALIGN; table = b""; body = b""
for t, b in blobs:
    table += t + struct.pack("<III", off, len(b), zlib.crc32(b))
    pad = (-len(b)) % ALIGN
    body += b + b"\xff" * pad; off += len(b) + pad
fixed = b"ACMEFW\x01\x00" + struct.pack("<HH", 1, len(blobs)) + b"R1000".ljust(32, b"\0") + b"1.0.0".ljust(16, b"\0") + struct.pack("<I", 20231114)
hdr = fixed + struct.pack("<I", zlib.crc32(fixed + table)) + table
assert len(hdr) == hdr_len
open("firmware.bin", "wb").write(hdr + b"\xff" * (ALIGN - len(hdr)) + body)
PY

# ---------------------------------------------------------------- 8. ground truth
log "ground truth"
python3 - "$OUT" <<'PY'
import json, subprocess, hashlib, os, sys
out = sys.argv[1]
pk = []
for line in open(os.path.join(out, "packages.txt")):
    name, deb = line.split()
    f = lambda k: subprocess.run(["dpkg-deb", "-f", deb, k], capture_output=True, text=True).stdout.strip()
    pk.append({"package": name, "version": f("Version"), "source": f("Source") or name, "arch": f("Architecture"),
               "deb_sha256": hashlib.sha256(open(deb, "rb").read()).hexdigest()})
imgs = {}
for fn in sorted(os.listdir(out)):
    p = os.path.join(out, fn)
    if os.path.isfile(p) and fn.endswith((".sqfs", ".jffs2", ".cpio.gz", ".ubi", ".ubifs", ".itb", ".bin")) or fn.startswith("uImage"):
        imgs[fn] = {"size": os.path.getsize(p), "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
gt = {"device": {"model": "ACME R1000", "firmware_version": "1.0.0"}, "packages": pk, "images": imgs,
      "planted": [
        {"type": "default_password", "path": "/etc/shadow", "user": "root", "hash": "md5crypt", "plaintext": "admin"},
        {"type": "default_password", "path": "/etc/shadow", "user": "admin", "hash": "sha512crypt", "plaintext": "1234"},
        {"type": "empty_password", "path": "/etc/shadow", "user": "support"},
        {"type": "extra_uid0", "path": "/etc/passwd", "user": "admin"},
        {"type": "serial_console_getty", "path": "/etc/inittab", "tty": "ttyS0"},
        {"type": "telnetd_enabled", "path": "/etc/init.d/S50remote"},
        {"type": "ssh_server", "path": "/etc/init.d/S50remote", "daemon": "dropbear"},
        {"type": "remote_syslog", "path": "/etc/syslog.conf", "targets": ["logs.acme-cloud.example:514", "198.51.100.7:6514"]},
        {"type": "remote_syslog", "path": "/etc/inittab", "targets": ["logs.acme-cloud.example:514"]},
        {"type": "private_key", "path": "/etc/ssl/private/server.key", "kind": "RSA-2048 PKCS#8 PEM"},
        {"type": "private_key", "path": "/etc/config/device_ec.pem", "kind": "EC P-256 SEC1 PEM"},
        {"type": "private_key", "path": "/root/.ssh/id_ed25519", "kind": "OpenSSH ed25519"},
        {"type": "private_key", "path": "/etc/dropbear/dropbear_rsa_host_key", "kind": "dropbear RSA host key"},
        {"type": "hardcoded_secret", "path": "/etc/config/cloud.conf", "keys": ["api_token", "aws_access_key_id", "aws_secret_access_key", "mqtt_password"]},
        {"type": "hardcoded_secret", "path": "/etc/hostapd.conf", "keys": ["wpa_passphrase", "ap_pin"]},
        {"type": "plaintext_credentials", "path": "/etc/lighttpd/.htpasswd"},
        {"type": "web_server_as_root", "path": "/etc/lighttpd/lighttpd.conf"},
        {"type": "upnp_insecure", "path": "/etc/miniupnpd/miniupnpd.conf"},
        {"type": "command_injection_cgi", "path": "/www/cgi-bin/ping.cgi"},
      ]}
json.dump(gt, open(os.path.join(out, "ground_truth.json"), "w"), indent=2)
PY
ls -la "$OUT" >&2
