"""Ruling out matched CVEs, each as a VEX statement with a justification (never a silent drop).

1. Distro package revision: the Debian security tracker says the CVE was fixed in a package
   revision at or below the one installed (dpkg status gives the full version).
2. Kernel code not built: only when the kernel config is known, the CVE description names a
   subsystem/driver from the table below, that config symbol is not set (absent or "n") and no
   module of that name ships.  A built-in driver cannot hide behind a missing module because the
   config must say it is off.  Without a config nothing is ruled out (modules alone cannot show a
   driver is absent: it may be built in).
3. BusyBox applets not built: the CVE names applets (or their source files) and none of them is
   in the applet list of the image's BusyBox.
"""
from __future__ import annotations

import re

from firmpass.model import Component, PackageOrigin, Text
from firmpass.vulns.versions import compare

DEBIAN_CODENAMES = {"13": "trixie", "12": "bookworm", "11": "bullseye", "10": "buster", "9": "stretch"}


def debian_release(origin: PackageOrigin) -> str | None:
    for v in (origin.distro_codename, origin.distro_release):
        if v:
            v = v.lower()
            return DEBIAN_CODENAMES.get(v.split(".")[0], v)
    pv = origin.package_version or origin.distro_version or ""
    m = re.search(r"deb(\d+)u\d+", pv)
    if m:
        return DEBIAN_CODENAMES.get(m.group(1))
    return None


def distro_fixed(comp: Component, fixes: dict[str, list]) -> dict | None:
    """-> {"fixed_version", "release", "installed"} when the installed revision has the fix."""
    origin = comp.origin()
    installed = origin.package_version or origin.distro_version
    if not installed:
        return None
    rel = debian_release(origin)
    cands = [f for f in fixes if f.status == "resolved" and f.fixed_version]
    if rel and any(f.release == rel for f in fixes):
        cands = [f for f in cands if f.release == rel]  # the release's own verdict only (open = not fixed)
    else:
        # release unknown: a release's fix counts only on the same upstream line (a backport to
        # 2.72 says nothing about 2.76), or when the installed revision is past every fix
        from firmpass.vulns.versions import debian_upstream
        real = [f for f in cands if f.fixed_version != "0"]
        if real and all(compare(installed, f.fixed_version, "deb") >= 0 for f in real):
            top = max(real, key=lambda f: __import__("functools").cmp_to_key(lambda a, b: compare(a, b, "deb"))(f.fixed_version))
            return {"fixed_version": top.fixed_version, "release": top.release, "installed": installed}
        up = debian_upstream(installed)
        cands = [f for f in real if debian_upstream(f.fixed_version) == up]
    for f in cands:
        if f.fixed_version == "0":  # the tracker's "never affected in this release"
            if rel and f.release == rel:
                return {"fixed_version": "0", "release": f.release, "installed": installed}
            continue
        if compare(installed, f.fixed_version, "deb") >= 0:
            return {"fixed_version": f.fixed_version, "release": f.release, "installed": installed}
    return None


def distro_statement(fix: dict, source_package: str) -> tuple[str, Text]:
    if fix["fixed_version"] == "0":
        return "code_not_present", Text(
            en=f"Debian security tracker: {source_package} in {fix['release']} was never affected; installed {fix['installed']}",
            zh=f"Debian 安全追踪器：{fix['release']} 中的 {source_package} 从未受影响；已安装版本 {fix['installed']}")
    return "code_not_present", Text(
        en=f"fixed in Debian package revision {fix['fixed_version']} ({fix['release']}); installed {source_package} "
           f"{fix['installed']} includes the fix",
        zh=f"已在 Debian 软件包修订版 {fix['fixed_version']}（{fix['release']}）中修复；已安装的 {source_package} "
           f"{fix['installed']} 包含该修复")


# description keyword (regex) -> (config symbols, module names)
KERNEL_FEATURES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    (r"\bksmbd\b", ("CONFIG_SMB_SERVER",), ("ksmbd",)),
    (r"\bnfsd\b|\bfs/nfsd\b", ("CONFIG_NFSD",), ("nfsd",)),
    (r"\bnf_tables\b|\bnftables\b", ("CONFIG_NF_TABLES",), ("nf_tables",)),
    (r"\bSCTP\b", ("CONFIG_IP_SCTP",), ("sctp",)),
    (r"\bbluetooth\b|\bnet/bluetooth\b", ("CONFIG_BT",), ("bluetooth",)),
    (r"\bbtrfs\b", ("CONFIG_BTRFS_FS",), ("btrfs",)),
    (r"\bxfs\b", ("CONFIG_XFS_FS",), ("xfs",)),
    (r"\bf2fs\b", ("CONFIG_F2FS_FS",), ("f2fs",)),
    (r"\bntfs3\b", ("CONFIG_NTFS3_FS",), ("ntfs3",)),
    (r"\bamdgpu\b", ("CONFIG_DRM_AMDGPU",), ("amdgpu",)),
    (r"\bi915\b", ("CONFIG_DRM_I915",), ("i915",)),
    (r"\bnouveau\b", ("CONFIG_DRM_NOUVEAU",), ("nouveau",)),
    (r"\bKVM\b", ("CONFIG_KVM",), ("kvm", "kvm_intel", "kvm_amd")),
    (r"\bio_uring\b", ("CONFIG_IO_URING",), ()),
    (r"\bDCCP\b", ("CONFIG_IP_DCCP",), ("dccp",)),
    (r"\bTIPC\b", ("CONFIG_TIPC",), ("tipc",)),
    (r"\bRDS\b", ("CONFIG_RDS",), ("rds",)),
    (r"\bCAN BCM\b|\bnet/can\b", ("CONFIG_CAN",), ("can", "can_bcm", "can_raw")),
    (r"\bHFS\+?\b|\bhfsplus\b", ("CONFIG_HFS_FS", "CONFIG_HFSPLUS_FS"), ("hfs", "hfsplus")),
    (r"\bcifs\b|\bSMB client\b", ("CONFIG_CIFS",), ("cifs",)),
    (r"\bfirewire\b", ("CONFIG_FIREWIRE",), ("firewire_core",)),
    (r"\bInfiniBand\b|\bRDMA\b", ("CONFIG_INFINIBAND",), ("ib_core",)),
    (r"\bvmwgfx\b", ("CONFIG_DRM_VMWGFX",), ("vmwgfx",)),
    (r"\bhyper-v\b", ("CONFIG_HYPERV",), ("hv_vmbus",)),
    (r"\bXen\b", ("CONFIG_XEN",), ()),
    (r"\bmac80211\b|\bcfg80211\b", ("CONFIG_MAC80211", "CONFIG_CFG80211"), ("mac80211", "cfg80211")),
    (r"\bUSB\b", ("CONFIG_USB", "CONFIG_USB_SUPPORT"), ("usbcore",)),
    (r"\bext4\b", ("CONFIG_EXT4_FS",), ("ext4",)),
]


def kernel_not_built(description: str | None, kernel: dict | None) -> tuple[str, Text] | None:
    if not description or not kernel or not isinstance(kernel.get("config"), dict) or not kernel["config"]:
        return None
    config: dict = kernel["config"]
    modules = {str(m).rsplit("/", 1)[-1].removesuffix(".ko").removesuffix(".xz").removesuffix(".ko").replace("-", "_")
               for m in kernel.get("modules") or []}
    named = [(pat, syms, mods) for pat, syms, mods in KERNEL_FEATURES if re.search(pat, description, re.I if pat.islower() else 0)]
    if not named:
        return None
    for _pat, syms, mods in named:
        for s in syms:
            if str(config.get(s, "n")).strip('"').lower() in ("y", "m"):
                return None
        if any(m in modules for m in mods):
            return None
    syms = ", ".join(s for _p, ss, _m in named for s in ss)
    return "code_not_present", Text(
        en=f"the kernel is built without the code this CVE concerns: {syms} not set in the kernel config and no such module present",
        zh=f"内核构建时未包含该 CVE 涉及的代码：内核配置中未启用 {syms}，且不存在相应模块")


BUSYBOX_APPLETS = ("hush", "ash", "udhcpc", "udhcpd", "dhcprelay", "wget", "tar", "unzip", "lzma", "unlzma", "lzcat",
                   "netstat", "nslookup", "awk", "httpd", "telnetd", "ftpd", "tftpd", "tftp", "ntpd", "traceroute",
                   "ping", "ip", "arp", "route", "sed", "grep", "man", "bunzip2", "bzcat", "gunzip", "zcat", "cpio",
                   "dpkg", "rpm", "xz", "unxz", "modprobe", "insmod", "login", "su", "passwd", "crond", "syslogd",
                   "klogd", "mount", "fdisk", "hexdump", "od", "dc", "bc", "vi", "less", "sort", "uniq", "find",
                   "xargs", "env", "chpasswd", "adduser", "telnet", "nc", "ifconfig", "inetd", "start-stop-daemon")
BUSYBOX_PATHS = [(r"networking/udhcp/", ("udhcpc", "udhcpd", "dhcprelay")), (r"shell/ash\.c", ("ash",)),
                 (r"shell/hush\.c", ("hush",)), (r"editors/awk\.c", ("awk",)), (r"networking/wget\.c", ("wget",)),
                 (r"decompress_unlzma\.c", ("unlzma", "lzma", "lzcat", "tar", "rpm", "dpkg")),
                 (r"decompress_bunzip2\.c", ("bunzip2", "bzcat", "tar", "rpm", "dpkg")),
                 (r"networking/nslookup\.c", ("nslookup",)), (r"networking/netstat\.c", ("netstat",)),
                 (r"archival/unzip\.c", ("unzip",)), (r"archival/tar\.c", ("tar",)), (r"editors/sed\.c", ("sed",)),
                 (r"miscutils/man\.c", ("man",)), (r"networking/httpd\.c", ("httpd",))]
_APPLET_RE = re.compile(r"\b(" + "|".join(re.escape(a) for a in sorted(BUSYBOX_APPLETS, key=len, reverse=True)) + r")\b"
                        r"(?=\s+(?:applet|component|command|function|utility|tool|client|server|daemon))|"
                        r"\b(?:busybox|BusyBox)'?s?\s+(" + "|".join(re.escape(a) for a in BUSYBOX_APPLETS) + r")\b|"
                        r"\bif\s+(" + "|".join(re.escape(a) for a in BUSYBOX_APPLETS) + r")\s+is\s+used\b|"
                        r"\bin\s+(?:the\s+)?(" + "|".join(re.escape(a) for a in BUSYBOX_APPLETS) + r")\s+(?:applet|in\s+busybox)", re.I)


def busybox_applets_named(description: str) -> set[str]:
    names = {next(g for g in m.groups() if g).lower() for m in _APPLET_RE.finditer(description)}
    for pat, apps in BUSYBOX_PATHS:
        if re.search(pat, description):
            names.update(apps)
    return names


def busybox_not_built(description: str | None, busybox: dict | None) -> tuple[str, Text] | None:
    if not description or not busybox or not isinstance(busybox.get("applets"), list) or not busybox["applets"]:
        return None
    present = {str(a).lower() for a in busybox["applets"]}
    named = busybox_applets_named(description)
    if not named or named & present:
        return None
    lst = ", ".join(sorted(named))
    return "code_not_present", Text(
        en=f"the CVE concerns the BusyBox applet(s) {lst}, which this BusyBox build does not include",
        zh=f"该 CVE 涉及 BusyBox 小程序 {lst}，而此 BusyBox 构建未包含这些小程序")
