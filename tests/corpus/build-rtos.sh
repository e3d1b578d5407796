#!/usr/bin/env bash
# Adds real RTOS firmware blobs and images firmpass cannot open (runs after build.sh with OUT set):
#   rtos/mt7915_wa.bin          MediaTek MT7915 Wi-Fi firmware (firmware-misc-nonfree): FreeRTOS 10.0.0
#   rtos/brcmfmac4366c-pcie.bin Broadcom Wi-Fi firmware (firmware-brcm80211): ThreadX, no version string
#   rtos/sd8887_uapsta.bin      Marvell Wi-Fi firmware (firmware-libertas): ThreadX G5.3.5.2
#   rtos/rtw8852a_fw.bin        Realtek Wi-Fi firmware (firmware-realtek): FreeRTOS, no version string
#   rtos/vendor-rtos.bin        a monolithic RTOS-style image: a made-up 64-byte vendor header, then the
#                               MediaTek blob gzip-compressed and the Marvell blob xz-compressed (streams
#                               carved by signature; their decompressed parts carry the RTOS strings)
#   rtos/encrypted.bin          the corpus's gzip squashfs encrypted with AES-256-CBC (openssl enc, fixed
#                               key) behind a 256-byte plain vendor header: an image nobody can open
#   rtos/vendor-download.zip    a zip of three .img files no handler opens: the Broadcom and Realtek
#                               blobs and encrypted.bin
#   rtos/rtos.json              what each file must give
# The blobs come from Debian's non-free-firmware packages, through a private apt state under $W (the
# machine's apt configuration is not changed); nothing from them is committed.
set -euo pipefail
OUT=${OUT:?}
W=${W:-$OUT/../work}
A=$W/apt-rtos
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/debs" "$OUT/rtos"
cat > "$A/sources.list" <<'SRC'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm non-free-firmware
SRC
APTO=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$A/lists"
      -o Dir::Cache="$A/cache" -o Acquire::Languages=none)
PKGS=(firmware-misc-nonfree firmware-brcm80211 firmware-libertas firmware-realtek)
if ! ls "$A"/debs/firmware-libertas_*.deb >/dev/null 2>&1; then
  apt-get "${APTO[@]}" update >/dev/null
  (cd "$A/debs" && apt-get "${APTO[@]}" download "${PKGS[@]}" >/dev/null 2>&1)
fi
R=$OUT/rtos
t=$(mktemp -d)
for p in "${PKGS[@]}"; do dpkg-deb -x "$(ls "$A"/debs/"$p"_*.deb | head -1)" "$t"; done
cp "$t"/lib/firmware/mediatek/mt7915_wa.bin "$t"/lib/firmware/brcm/brcmfmac4366c-pcie.bin \
   "$t"/lib/firmware/mrvl/sd8887_uapsta.bin "$t"/lib/firmware/rtw89/rtw8852a_fw.bin "$R/"
rm -rf "$t"
cd "$R"
{ printf 'ACMERTOS\x01\x00\x00\x00'; head -c 52 /dev/zero; gzip -9nc mt7915_wa.bin; xz -9c sd8887_uapsta.bin; } > vendor-rtos.bin
{ printf 'ACMEFW02'; head -c 248 /dev/zero
  openssl enc -aes-256-cbc -nosalt -K "$(printf '%064x' 1)" -iv "$(printf '%032x' 2)" -in "$OUT/rootfs-gzip.sqfs"; } > encrypted.bin
rm -rf dl; mkdir -p dl/FW
cp brcmfmac4366c-pcie.bin dl/FW/wifi-a.img; cp rtw8852a_fw.bin dl/FW/wifi-b.img; cp encrypted.bin dl/FW/system.img
rm -f vendor-download.zip; (cd dl && zip -q -r -X ../vendor-download.zip FW); rm -rf dl
cat > rtos.json <<'JSON'
{"mt7915_wa.bin": {"rtos": "FreeRTOS", "version": "10.0.0"},
 "brcmfmac4366c-pcie.bin": {"rtos": "ThreadX", "version": null},
 "sd8887_uapsta.bin": {"rtos": "ThreadX", "version": "5.3.5.2"},
 "rtw8852a_fw.bin": {"rtos": "FreeRTOS", "version": null},
 "vendor-rtos.bin": {"rtos_all": [["FreeRTOS", "10.0.0"], ["ThreadX", "5.3.5.2"]]},
 "encrypted.bin": {"likely_cause": "encrypted"},
 "vendor-download.zip": {"not_opened": ["/FW/system.img", "/FW/wifi-a.img", "/FW/wifi-b.img"],
                         "rtos_all": [["FreeRTOS", null], ["ThreadX", null]]}}
JSON
