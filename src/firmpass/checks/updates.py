"""Update mechanism (UPD-001 .. UPD-004): which updater is there, does it verify signatures, how
does it fetch (https / http), does it refuse downgrades, is there an A/B or recovery path."""
from __future__ import annotations

import posixpath
import re

from firmpass.checks.base import CheckRun, Hit, in_dir
from firmpass.checks.registry import check
from firmpass.model import Evidence, Text

UPDATERS = {  # name -> (binary basenames, config paths)
    "SWUpdate": ({"swupdate"}, ("/etc/swupdate.cfg", "/etc/swupdate/swupdate.cfg")),
    "RAUC": ({"rauc"}, ("/etc/rauc/system.conf",)),
    "Mender": ({"mender", "mender-update", "mender-auth"}, ("/etc/mender/mender.conf",)),
    "fwupd": ({"fwupd", "fwupdmgr"}, ("/etc/fwupd/fwupd.conf", "/etc/fwupd/daemon.conf")),
    "opkg": ({"opkg"}, ("/etc/opkg.conf", "/etc/opkg/opkg.conf")),
    "OpenWrt sysupgrade": ({"sysupgrade"}, ("/lib/upgrade/common.sh",)),
    "hawkBit client": ({"rauc-hawkbit-updater", "swupdate-hawkbit"}, ("/etc/rauc-hawkbit-updater/config.conf",)),
}
SIGN_RX = re.compile(r"(openssl\s+(dgst|pkeyutl|smime|cms)\b.*-verify|gpgv?\b.*--verify|\busign\b.*-V|\bucert\b|"
                     r"\bsignify\b.*-V|public-key-file|ArtifactVerifyKey|check_signature|\[keyring\]|"
                     r"signature[_-]?(check|verify)|verify[_-]?signature|rsa_verify|ecdsa_verify)", re.I)
ROLLBACK_RX = re.compile(r"(--no-downgrading|\s-N\s|version.*(-lt|-le|-gt|-ge|<|>)|(-lt|-gt|-le|-ge).*version|"
                         r"anti[-_]?rollback|rollback[_-]?(index|counter|protection)|min[_-]?version|"
                         r"compatible\s*=|max-version)", re.I)
FLASH_RX = re.compile(r"\b(mtd\s+(-r\s+)?write|flashcp|flash_erase|nandwrite|dd\s+[^|;]*of=/dev/(mtd|mmcblk|sd)|"
                      r"ubiupdatevol|fw_setenv\s+(upgrade_available|bootcount|boot_part|active_slot))")
URL_RX = re.compile(r"\b(https?|ftp|tftp)://[^\s\"'<>)]+", re.I)
AB_RX = re.compile(r"(\[slot\.\w+\.1\]|rootfs_?[ab]\b|altbootcmd|upgrade_available|bootcount|boot_part|"
                   r"active_slot|recovery)", re.I)


def find_updaters(run: CheckRun) -> list[dict]:
    """Every update path in the image, each {name, files, texts, signature, rollback, ab, urls} (and
    `web` for a web-UI upload); computed once per scan, published as extra.checks_updates."""
    if "_updaters" in run.memo:
        return run.memo["_updaters"]
    found: dict[str, dict] = {}
    _known_updaters(run, found)
    _vendor_flash_scripts(run, found)
    _web_uploads_and_daemons(run, found)
    for u in found.values():
        _add_related_texts(run, u)
    out = list(found.values())
    for u in out:
        _judge(run, u)
    run.memo["_updaters"] = out
    run.memo["updates"] = [{"updater": u["name"], "files": sorted({f.path for f in u["files"]}),
                            "signature_verification": bool(u["signature"]) if not u.get("web") or u["signature"]
                            else None, "anti_rollback": bool(u["rollback"]),
                            "ab_or_recovery": bool(u["ab"]),
                            "urls": sorted({x[2] for x in u["urls"]})} for u in out]
    return out


def _updater(found: dict[str, dict], name: str, **flags: bool) -> dict:
    """The record of updater `name` in `found`, made on first use."""
    return found.setdefault(name, {"name": name, "files": [], "texts": [], **flags})


def _known_updaters(run: CheckRun, found: dict[str, dict]) -> None:
    """The updaters of UPDATERS, by their binaries (in a bin directory) or their configuration files."""
    for f in run.ctx.result.files:
        if f.type not in ("file", "symlink"):
            continue
        base = posixpath.basename(f.path)
        for name, (bins, confs) in UPDATERS.items():
            if (base in bins and in_dir(run.rel(f), "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/libexec",
                                         "/usr/lib/fwupd", "/usr/libexec/fwupd")) or run.rel(f) in confs:
                _updater(found, name)["files"].append(f)


def _vendor_flash_scripts(run: CheckRun, found: dict[str, dict]) -> None:
    """Vendor update scripts: text files named for an update that write flash partitions."""
    for e in run.regular:
        if e.size > 256 * 1024 or in_dir(run.rel(e), "/usr/share", "/usr/include") or not run.is_text(e):
            continue
        if not re.search(r"(upgrade|update|firmware|fwup|flash|ota)", e.path, re.I):
            continue
        txt = run.read(e).decode("utf-8", "replace")
        if FLASH_RX.search(txt):
            _updater(found, f"vendor script {e.path}")["files"].append(e)


def _web_uploads_and_daemons(run: CheckRun, found: dict[str, dict]) -> None:
    """The web UI's firmware upload (a page with a file input posting an image, an upgrade CGI) and
    vendor update daemons: an update path even without any of the updaters above."""
    for f in web_update_files(run):
        _updater(found, "web UI firmware upload", web=True)["files"].append(f)
    for f in run.regular:
        if VENDOR_DAEMON.search(posixpath.basename(f.path)) and in_dir(run.rel(f), "/bin", "/sbin", "/usr/bin",
                                                                        "/usr/sbin"):
            _updater(found, f"vendor update daemon {posixpath.basename(f.path)}")["files"].append(f)


def _add_related_texts(run: CheckRun, u: dict) -> None:
    """The updater's own text files, then the configs and scripts that name one of its files: where
    the signs of signature checks, transport and rollback protection are looked for."""
    names = {posixpath.basename(f.path) for f in u["files"]}
    for f in u["files"]:
        if f.type == "file" and run.is_text(f):
            u["texts"].append(f)
    for e in run.regular:
        if e in u["texts"] or e.size > 256 * 1024 or not run.is_text(e):
            continue
        if not (in_dir(run.rel(e), "/etc", "/lib/upgrade", "/usr/share/swupdate", "/usr/lib/swupdate", "/www")):
            continue
        txt = run.read(e)
        if any(n.encode() in txt for n in names if len(n) > 3):
            u["texts"].append(e)


def _judge(run: CheckRun, u: dict) -> None:
    """The first line of the updater's texts showing a signature check, rollback protection and an A/B
    or recovery path, and every URL they name."""
    u["signature"] = _first(run, u["texts"], SIGN_RX)
    if u["name"] in ("RAUC", "fwupd"):  # these always verify (bundles / metadata are signed by design)
        u["signature"] = u["signature"] or ("by design", None, None)
    u["rollback"] = _first(run, u["texts"], ROLLBACK_RX)
    u["ab"] = _first(run, u["texts"], AB_RX)
    u["urls"] = [(e, n, m.group(0)) for e in u["texts"] for n, line in enumerate(run.lines(e), 1)
                 if not line.lstrip().startswith("#") for m in URL_RX.finditer(line)]


WEB_DIRS = ("/www", "/usr/www", "/var/www", "/srv/www", "/home/httpd", "/usr/share/www", "/webs", "/web", "/htdocs",
            "/usr/lib/lua/luci", "/usr/share/webui")
WEB_UPDATE_NAME = re.compile(r"(firmware|upgrade|fwup|fw_?update|flash|sysupgrade|upload)", re.I)
WEB_EXT = re.compile(r"(\.(php|asp|aspx|htm|html|shtml|cgi|js|lua|sh|xml|json|jsp)|/[^/.]+)$", re.I)
UPLOAD_FORM = re.compile(rb"(type\s*=\s*[\"']?file\b|multipart/form-data|FormData\s*\(|upload_?firmware|fw_?upload|"
                         rb"firmware_?upload|sysupgrade|/upgrade\.cgi|upgrade_?firmware|\bcfm\s+upgrade)", re.I)
VENDOR_DAEMON = re.compile(r"^(fw_?upgrade|fw_?updated?|firmware_?update|upgraded|ota[_-]?(client|agent|update|d)|"
                           r"otad|autoupgrade|auto_?update|cloud_?upgrade)$", re.I)


def web_update_files(run: CheckRun) -> list:
    """Web-UI pages and CGIs that upload a firmware image (tools_firmware.php, upgrade.cgi, ...)."""
    out = []
    for e in run.regular:
        rel = run.rel(e)
        if not (in_dir(rel, *WEB_DIRS) or "/cgi-bin/" in rel):
            continue
        name = posixpath.basename(rel)
        if not (WEB_UPDATE_NAME.search(name) and WEB_EXT.search("/" + name)):
            continue
        if run.is_text(e):
            if UPLOAD_FORM.search(run.read(e)):
                out.append(e)
        elif name.endswith(".cgi") or "/cgi-bin/" in rel:
            out.append(e)  # a compiled upgrade CGI
    return out


def _first(run, texts, rx):
    for e in texts:
        for n, line in enumerate(run.lines(e), 1):
            if not line.lstrip().startswith("#") and rx.search(line):
                return (e, n, line.strip())
    return None


NO_UPDATER = Text(en="no updater binary, config, flash-writing update script, vendor update daemon or web-UI "
                     "firmware upload found",
                  zh="未找到升级程序、升级配置、写闪存的升级脚本、厂商升级守护进程或 Web 界面固件上传")
UPDATER_FILE = Text(en="updater file", zh="升级程序相关文件")


@check("UPD-001")
def no_updater(run: CheckRun):
    if run.system and not find_updaters(run):
        yield Hit(key=("none",), evidence=[Evidence(path="/", container=c, detail=NO_UPDATER) for c in run.containers],
                  data={"searched": sorted(UPDATERS) + ["vendor scripts writing flash", "vendor update daemons",
                                                       "web-UI firmware upload pages and CGIs"]})


@check("UPD-002")
def unsigned_updates(run: CheckRun):
    for u in find_updaters(run):
        if u["signature"] or u.get("web"):
            continue  # a web upload's checks live in the server / CGI binary: not judged from its pages
        f = u["files"][0]
        why = Text(en="no signature option, key or verify command in its configuration or scripts",
                   zh="其配置或脚本中没有签名选项、公钥或校验命令")
        yield Hit(key=("upd", u["name"]), evidence=[run.ev(x, None, None, UPDATER_FILE) for x in u["files"][:10]],
                  params={"updater": u["name"], "path": f.path, "why": why},
                  data={"updater": u["name"], "files": [x.path for x in u["files"]]})


@check("UPD-003")
def plain_http(run: CheckRun):
    for u in find_updaters(run):
        by: dict[str, list] = {}
        for e, n, url in u["urls"]:
            if url.lower().startswith(("http://", "ftp://", "tftp://")) and not re.match(
                    r"^https?://(127\.|localhost|\[::1\])", url):
                by.setdefault(e.path, []).append((e, n, url))
        for path, xs in by.items():
            yield Hit(key=("http", path), evidence=[run.ev(e, n, url) for e, n, url in xs],
                      params={"path": path, "urls": sorted({x[2] for x in xs})},
                      data={"updater": u["name"], "urls": sorted({x[2] for x in xs})})


@check("UPD-004")
def rollback(run: CheckRun):
    for u in find_updaters(run):
        if u["rollback"] or not u["signature"] or u.get("web"):
            continue  # without signatures, rollback protection is moot (UPD-002 already raised)
        f = u["files"][0]
        yield Hit(key=("rb", u["name"]), evidence=[run.ev(x, None, None, UPDATER_FILE) for x in u["files"][:10]],
                  params={"updater": u["name"], "path": f.path}, data={"updater": u["name"]})
