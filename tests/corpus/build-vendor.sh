#!/usr/bin/env bash
# Adds a 2010s vendor router root filesystem, packed the way vendors' GPL / rootfs tarballs are: the root
# sits in a subfolder (squashfs-root/) of the archive.  Real binaries (busybox, libc, dropbear) come from
# the corpus rootfs; the defects planted are the ones field firmware shows (issue 19):
#   vendor-rootfs.tar.gz   squashfs-root/ with
#     etc/shadow (mode 0777)        root:: and bin:: (empty passwords), passwd with an extra UID-0 "Admin"
#     inittab -> init.d/rcS -> init.d/S10system.sh -> scripts/system.sh -> scripts/misc/telnetd.sh
#                                   which starts `telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign`,
#                                   the password being etc/config/image_sign (a hard-coded backdoor login)
#     etc/mosquitto/mosquitto.conf  anonymous MQTT broker on every address, no TLS, no ACL
#     etc/uboot_env.bin             a real U-Boot environment (mkenvimage) with verify=n
#     www/tools_firmware.php        the web UI's firmware upload page (an update mechanism)
#     web-UI label strings, JavaScript plumbing, shell variable plumbing, nsswitch.conf: no secrets
#     etc/config/ddns.conf          one real hard-coded secret (the precision check's true positive)
#   vendor.json                     the ground truth of the above (paths as the scan reports them)
set -euo pipefail
OUT=${OUT:?}
W=${W:?}
cd "$OUT"
V="$W/vendor"
R="$V/squashfs-root"
rm -rf "$V"; mkdir -p "$R"
cp -a rootfs/bin rootfs/sbin rootfs/lib "$R/"
[ -d rootfs/lib64 ] && cp -a rootfs/lib64 "$R/"
mkdir -p "$R/usr/sbin" "$R/usr/bin" "$R/etc/init.d" "$R/etc/scripts/misc" "$R/etc/scripts/libs" "$R/etc/config" \
         "$R/etc/mosquitto" "$R/www/js" "$R/var" "$R/tmp" "$R/proc"
cp -a rootfs/usr/sbin/dropbear "$R/usr/sbin/"
ln -sf ../../bin/busybox "$R/usr/sbin/login"
ln -sf ../../bin/busybox "$R/usr/sbin/telnetd"
cat > "$R/etc/passwd" <<'T'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/bin/sh
Admin:x:0:0:Admin:/:/bin/sh
nobody:x:99:99:nobody:/:/bin/false
T
cat > "$R/etc/shadow" <<'T'
root::10933:0:99999:7:::
bin::10933:0:99999:7:::
Admin:!:10933:0:99999:7:::
nobody:*:10933:0:99999:7:::
T
chmod 0777 "$R/etc/shadow"
printf 'root:x:0:\nbin:x:1:\nnobody:x:99:\n' > "$R/etc/group"
printf 'passwd: compat\ngroup: compat\nshadow: compat\nhosts: files dns\n' > "$R/etc/nsswitch.conf"
printf '::sysinit:/etc/init.d/rcS\n::respawn:-/bin/sh\n::restart:/sbin/init\n' > "$R/etc/inittab"
cat > "$R/etc/init.d/rcS" <<'T'
#!/bin/sh
# Alpha Networks SDK style: the numbered init scripts, then the system script
for i in /etc/init0.d/S??* ; do
	[ ! -f "$i" ] && continue
	$i start
done
/etc/init.d/S10system.sh
T
cat > "$R/etc/init.d/S10system.sh" <<'T'
#!/bin/sh
echo [$0] ... > /dev/console
mount -t proc none /proc
SCRIPTS=/etc/scripts
. $SCRIPTS/libs/fn.sh
sh $SCRIPTS/system.sh start > /dev/console
T
printf '#!/bin/sh\nLOGIN=/usr/sbin/login\n' > "$R/etc/scripts/libs/fn.sh"
cat > "$R/etc/scripts/system.sh" <<'T'
#!/bin/sh
case "$1" in
start)
	/etc/scripts/misc/telnetd.sh &
	/usr/sbin/dropbear -r /etc/dropbear_rsa_host_key -p 22 &
	;;
esac
T
cat > "$R/etc/scripts/misc/telnetd.sh" <<'T'
#!/bin/sh
image_sign=`cat /etc/config/image_sign`
TELNETD=`rgdb -g /sys/telnetd`
if [ "$TELNETD" = "true" ]; then
	echo "Start telnetd ..." > /dev/console
	telnetd -l $LOGIN -u Alphanetworks:$image_sign -i br0 &
fi
T
printf 'wrgn49_dlob_dir615\n' > "$R/etc/config/image_sign"
cat > "$R/etc/scripts/wps.sh" <<'T'
#!/bin/sh
key=`xmldbc -g /wifi/entry/nwkey/psk/key`
passphrase="psk=${key}"
password=$1
echo "$passphrase" > /var/run/wps.conf
T
chmod 0755 "$R"/etc/init.d/* "$R"/etc/scripts/*.sh "$R"/etc/scripts/misc/*.sh
cat > "$R/etc/mosquitto/mosquitto.conf" <<'T'
# home gateway broker
pid_file /var/run/mosquitto.pid
persistence true
persistence_location /var/lib/mosquitto/
listener 1883
allow_anonymous true
T
printf 'bootdelay=1\nbaudrate=115200\nverify=n\nbootcmd=bootm 0x9f050000\nbootargs=console=ttyS0,115200 root=31:02 rootfstype=squashfs\n' > "$W/vendor-env.txt"
mkenvimage -s 0x10000 -o "$R/etc/uboot_env.bin" "$W/vendor-env.txt"
cat > "$R/www/tools_firmware.php" <<'T'
<?include "/htdocs/phplib/html.php";?>
<div class="box">
<h2><?echo i18n("Firmware Upgrade");?></h2>
<form id="fwup" action="fwupload.cgi" method="post" enctype="multipart/form-data">
<input type="file" id="ulcfg" name="firmware" size="40">
<input type="submit" value="<?echo i18n("Upload");?>">
</form>
</div>
T
cat > "$R/www/js/lang_en.js" <<'T'
var share = new Object();
share.passwd="Password";
share.user="User Name";
wlansec.passphrase="Passphrase";
wlansec.psk = "Pre-Shared Key";
adm.token="Token";
T
cat > "$R/www/js/wlan.js" <<'T'
function Wlan(ssid, secret) {
  this.ssid = ssid;
  this.secret = secret;
  this.password = document.getElementById("password").value;
}
T
cat > "$R/etc/config/ddns.conf" <<'T'
ddns_enable=1
ddns_host=members.dyndns.example
ddns_user=r1000
ddns_password=Zq7pR2mW9xTc
T
rm -f vendor-rootfs.tar.gz
tar --sort=name --numeric-owner --owner=0 --group=0 -C "$V" -czf vendor-rootfs.tar.gz squashfs-root
P=/squashfs-root
cat > vendor.json <<T
{"vendor-rootfs.tar.gz": {
 "root": "$P",
 "planted": [
  {"type": "empty_password", "check": "CRED-001", "path": "$P/etc/shadow", "users": ["root", "bin"]},
  {"type": "extra_uid0", "check": "CRED-005", "path": "$P/etc/passwd", "user": "Admin"},
  {"type": "account_file_mode", "check": "FS-004", "path": "$P/etc/shadow", "mode": "0777"},
  {"type": "backdoor_login", "check": "CRED-007", "path": "$P/etc/scripts/misc/telnetd.sh", "line": 6,
   "user": "Alphanetworks", "password_file": "$P/etc/config/image_sign",
   "chain": ["$P/etc/inittab:1", "$P/etc/init.d/rcS:7", "$P/etc/init.d/S10system.sh:6", "$P/etc/scripts/system.sh:4"]},
  {"type": "telnetd_enabled", "check": "SVC-001", "path": "$P/etc/scripts/misc/telnetd.sh", "line": 6},
  {"type": "ssh_server", "check": "SVC-002", "path": "$P/etc/scripts/system.sh", "line": 5},
  {"type": "anonymous_broker", "check": "SVC-010", "path": "$P/etc/mosquitto/mosquitto.conf", "line": 6},
  {"type": "verify_off", "check": "BOOT-006", "path": "$P/etc/uboot_env.bin", "value": "n"},
  {"type": "hardcoded_secret", "check": "KEY-004", "path": "$P/etc/config/ddns.conf", "keys": ["ddns_password"]}
 ],
 "update_mechanisms": [{"updater": "web UI firmware upload", "path": "$P/www/tools_firmware.php"}],
 "not_secrets": ["$P/etc/nsswitch.conf", "$P/www/js/lang_en.js", "$P/www/js/wlan.js", "$P/etc/scripts/wps.sh",
                 "$P/www/tools_firmware.php", "$P/etc/config/image_sign"]
}}
T
ls -l vendor-rootfs.tar.gz >&2
