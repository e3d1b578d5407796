"""CPE 2.3 formatted strings: parsing, and the vendor/product names NVD uses for one product."""
from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("part", "vendor", "product", "version", "update", "edition", "language", "sw_edition",
          "target_sw", "target_hw", "other")


@dataclass(frozen=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str
    update: str = "*"
    target_sw: str = "*"
    target_hw: str = "*"

    @property
    def full_version(self) -> str | None:
        """Version with the update field appended ('7.4' + 'p1' -> '7.4p1'); None for ANY / NA."""
        if self.version in ("*", "-", ""):
            return None
        if self.update not in ("*", "-", ""):
            return f"{self.version}{'' if self.update[0].isalpha() and self.version[-1].isdigit() else '-'}{self.update}"
        return self.version


def split_cpe(s: str) -> list[str]:
    """Split on unescaped ':' and unescape the parts (CPE 2.3 formatted string binding)."""
    parts, cur, esc = [], [], False
    for ch in s:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_cpe(s: str | None) -> Cpe | None:
    if not s or not s.startswith("cpe:2.3:"):
        return None
    p = split_cpe(s)[2:]
    if len(p) < 4:
        return None
    p += ["*"] * (11 - len(p))
    return Cpe(part=p[0], vendor=p[1].lower(), product=p[2].lower(), version=p[3], update=p[4],
               target_sw=p[8], target_hw=p[9])


# Products NVD files under several vendor:product names.  Each group is one product; a component
# named by any member is looked up under all of them (the match records the criteria that hit).
ALIAS_GROUPS: list[list[tuple[str, str]]] = [
    [("openssl", "openssl"), ("openssl_project", "openssl")],
    [("haxx", "curl"), ("haxx", "libcurl")],
    [("dropbear_ssh_project", "dropbear_ssh"), ("matt_johnston", "dropbear_ssh_server"),
     ("dropbear_ssh", "dropbear_ssh")],
    [("busybox", "busybox")],
    [("thekelleys", "dnsmasq")],
    [("lighttpd", "lighttpd")],
    [("w1.fi", "hostapd")],
    [("w1.fi", "wpa_supplicant")],
    [("miniupnp_project", "miniupnpd"), ("miniupnp", "miniupnpd")],
    [("miniupnp_project", "miniupnpc"), ("miniupnp", "miniupnpc")],
    [("libexpat_project", "libexpat"), ("libexpat", "expat"), ("expat", "expat")],
    [("xmlsoft", "libxml2"), ("gnome", "libxml2"), ("xmlsoft", "libxml")],
    [("arm", "mbed_tls"), ("trustedfirmware", "mbed_tls"), ("arm", "mbedtls")],
    [("gnu", "zlib"), ("zlib", "zlib")],
    [("linux", "linux_kernel")],
    [("gnu", "glibc")],
    [("openbsd", "openssh")],
    [("denx", "u-boot")],
    [("libupnp_project", "libupnp"), ("pupnp_project", "pupnp")],
    [("uclibc", "uclibc")],
    [("uclibc-ng_project", "uclibc-ng")],
    [("sqlite", "sqlite")],
    [("pcre", "pcre")],
    [("libpng", "libpng")],
    [("ntp", "ntp")],
    [("samba", "samba")],
    [("avahi", "avahi")],
    [("wolfssl", "wolfssl")],
    [("libjpeg-turbo", "libjpeg-turbo")],
    [("openvpn", "openvpn")],
]
_ALIAS: dict[tuple[str, str], list[tuple[str, str]]] = {}
for _g in ALIAS_GROUPS:
    for _m in _g:
        _ALIAS[_m] = _g

# component names (package / binary names) -> vendor:product, used when a component has no CPE
NAME_TO_CPE: dict[str, tuple[str, str]] = {
    "openssl": ("openssl", "openssl"), "libssl3": ("openssl", "openssl"), "libssl": ("openssl", "openssl"),
    "libcrypto": ("openssl", "openssl"),
    "curl": ("haxx", "curl"), "libcurl": ("haxx", "libcurl"), "libcurl4": ("haxx", "libcurl"),
    "dropbear": ("dropbear_ssh_project", "dropbear_ssh"), "dropbear-bin": ("dropbear_ssh_project", "dropbear_ssh"),
    "busybox": ("busybox", "busybox"), "busybox-static": ("busybox", "busybox"),
    "dnsmasq": ("thekelleys", "dnsmasq"), "dnsmasq-base": ("thekelleys", "dnsmasq"),
    "lighttpd": ("lighttpd", "lighttpd"), "hostapd": ("w1.fi", "hostapd"),
    "wpasupplicant": ("w1.fi", "wpa_supplicant"), "wpa_supplicant": ("w1.fi", "wpa_supplicant"),
    "miniupnpd": ("miniupnp_project", "miniupnpd"), "miniupnpd-iptables": ("miniupnp_project", "miniupnpd"),
    "miniupnpd-nftables": ("miniupnp_project", "miniupnpd"),
    "linux": ("linux", "linux_kernel"), "linux-kernel": ("linux", "linux_kernel"), "linux_kernel": ("linux", "linux_kernel"),
    "glibc": ("gnu", "glibc"), "libc6": ("gnu", "glibc"), "zlib": ("gnu", "zlib"), "zlib1g": ("gnu", "zlib"),
    "openssh": ("openbsd", "openssh"), "u-boot": ("denx", "u-boot"), "expat": ("libexpat_project", "libexpat"),
    "libexpat1": ("libexpat_project", "libexpat"), "libxml2": ("xmlsoft", "libxml2"), "sqlite": ("sqlite", "sqlite"),
    "uclibc": ("uclibc", "uclibc"), "uclibc-ng": ("uclibc-ng_project", "uclibc-ng"),
}


def aliases(vendor: str, product: str) -> list[tuple[str, str]]:
    return _ALIAS.get((vendor.lower(), product.lower()), [(vendor.lower(), product.lower())])
