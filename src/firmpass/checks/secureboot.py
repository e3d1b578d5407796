"""Secure boot (BOOT-001 .. BOOT-005): legacy uImage vs FIT, FIT signatures verified against the
public key of a U-Boot control DTB found in the image, U-Boot environment, dm-verity / IMA.

Boot artefacts are looked for in the container chain (the image itself and carved parts, by their
format or magic) and among the regular files of every filesystem.  The verdict for the image goes
to ``extra["secure_boot"]``: verified | signed_no_key | signature_invalid | unsigned | unknown.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from firmpass.checks.base import CheckRun, Hit
from firmpass.checks.registry import check
from firmpass.formats import fdt as fdtmod
from firmpass.formats import uboot
from firmpass.model import Evidence, Text

BLOB_MAX = 512 * 1024 * 1024
RANK = {"signature_invalid": 0, "unsigned": 1, "signed_no_key": 2, "verified": 3}
FDT_MAGIC = b"\xd0\x0d\xfe\xed"
UIMG_MAGIC = b"\x27\x05\x19\x56"


def _read_path(p: Path, n: int | None = None) -> bytes:
    fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(BLOB_MAX if n is None else n)


def _candidates(run: CheckRun):
    """(label, container, evidence path, reader) for every blob that may be a boot artefact."""
    ctx = run.ctx
    for node in ctx.result.image.container_chain:
        if not node.blob:
            continue
        p = Path(node.blob)
        p = p if p.is_absolute() else ctx.out / p
        fmt = (node.format or "").lower()
        known = fmt in ("fit", "uimage", "dtb", "fdt", "uboot-env", "u-boot-env", "ubootenv")
        try:
            head = _read_path(p, 4)
        except OSError:
            continue
        if known or head in (FDT_MAGIC, UIMG_MAGIC) or "env" in fmt:
            parent = next((n for n in ctx.result.image.container_chain if n.id == node.parent), None)
            where = (parent.source_path if parent is not None and parent.source_path else
                     ctx.result.image.name if node.parent == "0" else f"container {node.parent}")
            label = node.source_path or (ctx.result.image.name if node.id == "0"
                                         else f"{where}@{node.offset:#x} ({fmt or 'blob'})")
            yield label, node.id, (lambda p=p: _read_path(p)), fmt
    for e in run.regular:
        if e.size < 64 or e.size > BLOB_MAX:
            continue
        name = e.path.rsplit("/", 1)[-1].lower()
        head = run.head(e, 4)
        is_env = ("env" in name and e.size <= 1 << 20 and not run.is_text(e)
                  and not name.endswith((".so", ".py", ".sh")))
        if head in (FDT_MAGIC, UIMG_MAGIC) or is_env:
            yield e.path, e.container, (lambda e=e: run.ctx.read(e, BLOB_MAX)), "env" if is_env else ""


def _boot_blobs(run: CheckRun) -> list[tuple[dict, bytes, str]]:
    """The candidate boot blobs, each content once: (record with every location, data, format)."""
    seen: dict[str, dict] = {}
    blobs = []
    for label, container, reader, fmt in _candidates(run):
        try:
            data = reader()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        ev = Evidence(path=label, container=container, sha256=digest)
        if digest in seen:
            seen[digest]["evidence"].append(ev)
            continue
        rec = {"evidence": [ev], "name": label}
        seen[digest] = rec
        blobs.append((rec, data, fmt))
    return blobs


def _control_dtb(rec: dict, data: bytes, ctl_keys: dict, bootargs: list) -> None:
    """A device tree: parsed into rec["fdt"]; when it is not a FIT, its public keys (a U-Boot control
    DTB) go to `ctl_keys` and its /chosen bootargs to `bootargs`."""
    try:
        f = fdtmod.parse(data)
    except fdtmod.FdtError as e:
        rec["error"] = str(e)
        return
    rec["fdt"] = f
    if not uboot.is_fit(f):
        keys = uboot.keys_from_dtb(f)
        if keys:
            ctl_keys.update(keys)
            rec["kind"] = "control-dtb"
            rec["keys"] = sorted(keys)
        ch = f.node("/chosen")
        if ch is not None and ch.prop("bootargs") is not None:
            bootargs.append((rec, ch.prop("bootargs").as_str()))


def _verify_fit_record(rec: dict, data: bytes, ctl_keys: dict, bootargs: list) -> None:
    """A FIT: its verification against the control DTBs' keys, and the bootargs of the board DTBs inside."""
    rec["kind"] = "fit"
    try:
        rep = uboot.verify_fit(data, ctl_keys or None)
        rec["report"] = rep.as_dict()
        rec["verdict"] = rep.verdict
        f = rec["fdt"]
        for img in f.node("/images").children:  # board DTBs inside the FIT: their bootargs
            t = img.prop("type")
            if t is not None and t.as_str() == "flat_dt":
                d = uboot.image_data(f, img, data)
                if d and d[:4] == FDT_MAGIC:
                    try:
                        ch = fdtmod.parse(d).node("/chosen")
                        if ch is not None and ch.prop("bootargs") is not None:
                            bootargs.append((rec, ch.prop("bootargs").as_str()))
                    except fdtmod.FdtError:
                        pass
    except Exception as e:  # noqa: BLE001 - a malformed FIT fails verification, it does not stop the scan
        rec["verdict"] = "signature_invalid"
        rec["report"] = {"reasons": [f"malformed FIT: {type(e).__name__}: {e}"], "configs": {}}


def analyse(run: CheckRun) -> dict:
    """The secure-boot summary of the image (extra.secure_boot): every boot image with its verdict,
    the control-DTB keys, bootargs, U-Boot environments, dm-verity / IMA signs and whether boot
    verification is switched off; computed once per scan, the records kept in run.memo["_boot"]."""
    if "secure_boot" in run.memo:
        return run.memo["secure_boot"]
    ctl_keys: dict = {}
    bootargs: list = []
    blobs = _boot_blobs(run)
    # control DTBs first: their keys verify the FITs
    for rec, data, fmt in blobs:
        if data[:4] == FDT_MAGIC:
            _control_dtb(rec, data, ctl_keys, bootargs)
    fits, uimages, envs = _boot_images(blobs, ctl_keys, bootargs)
    images = fits + uimages
    verdict = min((r["verdict"] for r in images), key=lambda v: RANK[v]) if images else "unknown"
    verity, ima = _integrity_signs(run, bootargs)
    fw_env = run.find("/etc/fw_env.config")
    summary = {
        "verdict": verdict,
        "images": [_image_summary(r) for r in images],
        "control_dtb_keys": sorted(ctl_keys), "bootargs": list(dict.fromkeys(a for _r, a in bootargs)),
        "uboot_env": [{"name": r["name"], "vars": {k: v for k, v in r["env"]["vars"].items() if k in ENV_SHOWN}}
                      for r in envs],
        "fw_env_config": [f.path for f in fw_env][:1],
        "dm_verity": verity, "ima": ima,
    }
    # boot verification switched off (U-Boot `verify=n` in an env blob, a text environment or a script
    # calling setenv/fw_setenv): the bootloader then boots images without checking their hashes or
    # the FIT signatures, whatever the images carry
    off = verify_off(run, envs)
    summary["verify_disabled"] = [{"path": o["path"], "line": o["line"], "value": o["value"]} for o in off]
    if off and verdict in ("verified", "signed_no_key"):
        summary["verdict_images"] = verdict
        summary["verdict"] = "verification_disabled"
    run.memo["secure_boot"] = summary
    run.memo["_boot"] = {"fits": fits, "uimages": uimages, "envs": envs, "bootargs": bootargs, "fw_env": fw_env,
                         "verify_off": off}
    return summary


# the U-Boot environment variables the summary shows
ENV_SHOWN = ("bootdelay", "bootargs", "bootcmd", "stdin", "stdout", "console", "silent", "bootstopkey", "preboot")


def _boot_images(blobs: list[tuple[dict, bytes, str]], ctl_keys: dict,
                 bootargs: list) -> tuple[list[dict], list[dict], list[dict]]:
    """The FITs (verified against the control-DTB keys), legacy uImages and U-Boot environments among
    the boot blobs, each record completed with its kind and verdict; bootargs found are added."""
    fits, uimages, envs = [], [], []
    for rec, data, fmt in blobs:
        if "fdt" in rec and uboot.is_fit(rec["fdt"]):
            _verify_fit_record(rec, data, ctl_keys, bootargs)
            fits.append(rec)
        elif data[:4] == UIMG_MAGIC:
            hdr = uboot.parse_uimage(data)
            if hdr:
                rec.update(kind="uimage", header=hdr, verdict="unsigned")
                uimages.append(rec)
        elif "env" in fmt or "env" in rec["name"].lower():
            env = uboot.parse_env(data)
            if env:
                rec.update(kind="uboot-env", env=env)
                envs.append(rec)
                if "bootargs" in env["vars"]:
                    bootargs.append((rec, env["vars"]["bootargs"]))
    return fits, uimages, envs


def _integrity_signs(run: CheckRun, bootargs: list) -> tuple[list[str], list[str]]:
    """Signs of dm-verity and of IMA: their tools and policies among the files, their kernel arguments."""
    files = {run.rel(f) for f in run.ctx.result.files}
    verity = sorted(p for p in files if re.search(r"(^|/)(veritysetup|verity_?setup)$", p))
    verity += [f"bootargs: {a}" for _r, a in bootargs if re.search(r"roothash=|dm-mod\.create=.*verity|dm=.*verity", a)]
    ima = sorted(p for p in files if p.startswith("/etc/ima") or p.endswith("ima-policy"))
    ima += [f"bootargs: {a}" for _r, a in bootargs if re.search(r"ima_appraise|ima_policy|evm=", a)]
    return verity, ima


def _image_summary(r: dict) -> dict:
    """One boot image as the summary lists it: name, kind, verdict, where it is, and its FIT report or
    uImage header."""
    return {"name": r["name"], "kind": r["kind"], "verdict": r["verdict"],
            "locations": [{"path": e.path, "container": e.container} for e in r["evidence"]],
            "sha256": r["evidence"][0].sha256,
            **({"fit": r["report"]} if "report" in r else {}),
            **({"uimage": r["header"]} if "header" in r else {})}


VERIFY_OFF_VALUES = {"n", "no", "0", "off", "false"}
TEXT_ENV_NAME = re.compile(r"(^|/)([^/]*(u-?boot|uboot)[^/]*env[^/]*|[^/]*env[^/]*\.txt|u-boot-initial-env|"
                           r"uEnv\.txt|boot\.cmd|bootenv[^/]*)$", re.I)
SETENV_VERIFY = re.compile(r"(?:^|[\s;&|])(?:fw_setenv|setenv|env\s+set)\s+verify\s+['\"]?(\w+)")


def verify_off(run: CheckRun, envs: list[dict]) -> list[dict]:
    """Every place that sets U-Boot's `verify` to off: env blobs, text environments, scripts."""
    out = []
    for r in envs:
        v = r["env"]["vars"].get("verify")
        if v is not None and v.strip().lower() in VERIFY_OFF_VALUES:
            for ev in r["evidence"]:
                out.append({"evidence": ev.model_copy(update={"excerpt": f"verify={v}"}), "path": r["name"],
                            "line": None, "value": v, "where": "env"})
    for e in run.regular:
        if e.size > 256 * 1024 or not run.is_text(e):
            continue
        text_env = bool(TEXT_ENV_NAME.search(e.path))
        data = run.read(e)
        if b"verify" not in data:
            continue
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            st = line.strip()
            if not st or st.startswith("#"):
                continue
            m = re.match(r"^verify\s*=\s*['\"]?(\w+)['\"]?$", st) if text_env else None
            val = m.group(1) if m else None
            if val is None:
                m2 = SETENV_VERIFY.search(st)
                val = m2.group(1) if m2 else None
            if val is not None and val.lower() in VERIFY_OFF_VALUES:
                out.append({"evidence": run.ev(e, n, st, Text(en="U-Boot verify switched off",
                                                              zh="U-Boot 的 verify 被关闭")),
                            "path": e.path, "line": n, "value": val, "where": "text"})
    return out


@check("BOOT-001")
def unsigned(run: CheckRun):
    analyse(run)
    b = run.memo["_boot"]
    bad = [r for r in b["uimages"] + b["fits"] if r["verdict"] == "unsigned"]
    if not bad:
        return
    evs = []
    for r in bad:
        if r["kind"] == "uimage":
            nm, ty = r["header"]["name"], r["header"]["type"]
            det = Text(en=f"legacy uImage '{nm}' ({ty}): format has no signature",
                       zh=f"旧式 uImage '{nm}'（{ty}）：该格式本身不支持签名")
        else:
            det = Text(en="FIT image without signature nodes in its configurations",
                       zh="FIT 镜像的配置节点中没有签名节点")
        evs += [e.model_copy(update={"detail": det}) for e in r["evidence"]]
    names = [r["name"] for r in bad]
    kinds = {r["kind"] for r in bad}
    detail = Text(en=("Legacy uImages have no signature at all." if "uimage" in kinds else "")
                  + (" The FIT images have no signature nodes." if "fit" in kinds else ""),
                  zh=("旧式 uImage 格式本身不支持签名。" if "uimage" in kinds else "")
                  + ("FIT 镜像中没有签名节点。" if "fit" in kinds else ""))
    yield Hit(key=("unsigned",), evidence=evs, params={"names": names, "detail": detail},
              data={"images": [{"name": r["name"], "kind": r["kind"]} for r in bad]})


# the verification reasons of firmpass.formats.uboot (English, kept as data) -> Chinese for the report
REASONS_ZH = [
    (re.compile(r"^signature node without value / hashed-nodes / hashed-strings$"),
     "签名节点缺少 value / hashed-nodes / hashed-strings 属性"),
    (re.compile(r"^region selection failed: (.*)$"), r"无法选出被签名的区域：\1"),
    (re.compile(r"^RSA/ECDSA signature does not verify over the signed regions$"),
     "RSA/ECDSA 签名与被签名区域的内容不符，校验未通过"),
    (re.compile(r"^signature does not cover: (.*)$"), r"签名未覆盖以下节点：\1"),
    (re.compile(r"^image (.*) missing$"), r"配置引用的镜像 \1 不存在"),
    (re.compile(r"^image (.*): hash does not match its data$"), r"镜像 \1 的哈希与其数据不符"),
    (re.compile(r"^hash mismatch: (.*)$"), r"哈希不匹配：\1"),
    (re.compile(r"^malformed FIT: (.*)$"), r"FIT 结构损坏：\1"),
    (re.compile(r"^signature invalid$"), "签名无效"),
]


def reason_zh(reason: str) -> str:
    for rx, zh in REASONS_ZH:
        if rx.match(reason):
            return rx.sub(zh, reason)
    return f"校验失败：{reason}"


@check("BOOT-002")
def invalid(run: CheckRun):
    analyse(run)
    for r in run.memo["_boot"]["fits"]:
        if r["verdict"] != "signature_invalid":
            continue
        reasons = list(r["report"].get("reasons", []))
        for c in r["report"].get("configs", {}).values():
            for s in c["signatures"]:
                reasons += s.get("reasons", [])
        reasons = list(dict.fromkeys(reasons)) or ["signature invalid"]
        why = Text(en="; ".join(reasons), zh="；".join(reason_zh(x) for x in reasons))
        yield Hit(key=("fit", r["evidence"][0].sha256),
                  evidence=[e.model_copy(update={"detail": why}) for e in r["evidence"]],
                  params={"name": r["name"], "reasons": why}, data={"reasons": reasons})


@check("BOOT-003")
def no_key(run: CheckRun):
    analyse(run)
    for r in run.memo["_boot"]["fits"]:
        if r["verdict"] != "signed_no_key":
            continue
        sigs = [s for c in r["report"]["configs"].values() for s in c["signatures"]]
        yield Hit(key=("fit", r["evidence"][0].sha256),
                  evidence=[e.model_copy(update={"detail": Text(
                      en="signed configuration, no public key in the image",
                      zh="配置已签名，但镜像中没有可用于校验的公钥")}) for e in r["evidence"]],
                  params={"name": r["name"], "algo": sigs[0]["algo"] if sigs else "?",
                          "key": sigs[0]["key_name_hint"] if sigs else "?"},
                  data={"signatures": [{k: s[k] for k in ("node", "algo", "key_name_hint")} for s in sigs]})


@check("BOOT-004")
def boot_settings(run: CheckRun):
    analyse(run)
    b = run.memo["_boot"]
    for r in b["envs"]:
        v = r["env"]["vars"]
        bd = v.get("bootdelay")
        if bd is not None and bd.strip() not in ("-2", "0") and "bootstopkey" not in v and "bootstopkeysha256" not in v:
            silent = v.get("silent", "").strip().lower() in ("1", "y", "yes", "on")
            yield Hit(key=("bootdelay",), evidence=[e.model_copy(update={"excerpt": f"bootdelay={bd}"
                                                                           + (" silent=" + v["silent"] if silent else "")})
                                                    for e in r["evidence"]],
                      params={"issue": Text(en=f"autoboot can be interrupted (bootdelay={bd}, no stop key"
                                               + ("; silent=1 only hides the prompt" if silent else "") + ")",
                                            zh=f"自动启动可被打断（bootdelay={bd}，未设置停止键"
                                               + ("；silent=1 只是隐藏了提示" if silent else "") + "）"),
                              "path": r["name"]}, data={"bootdelay": bd, "silent": silent})
    for r, args in b["bootargs"]:
        m = re.search(r"console=(tty(S|AMA|O|mxc|MSM|HS)\d+[^\s]*)", args)
        if m:
            yield Hit(key=("console",), evidence=[e.model_copy(update={"excerpt": args[:200], "detail": Text(
                          en="kernel console on a serial port", zh="内核控制台输出到串口")})
                                                  for e in r["evidence"]],
                      params={"issue": Text(en=f"kernel console on serial port ({m.group(1)})",
                                            zh=f"内核控制台开在串口上（{m.group(1)}）"), "path": r["name"]},
                      data={"console": m.group(1)})
    for f in b["fw_env"]:
        yield Hit(key=("fw_env",), evidence=[run.ev(f, None, None, Text(
                      en="fw_setenv/fw_printenv configuration", zh="fw_setenv/fw_printenv 的配置文件"))],
                  params={"issue": Text(en="U-Boot environment writable from Linux (fw_env.config)",
                                        zh="可在 Linux 中改写 U-Boot 环境变量（fw_env.config）"), "path": f.path},
                  data={"fw_env_config": f.path})


@check("BOOT-005")
def runtime_integrity(run: CheckRun):
    s = analyse(run)
    if not run.system or s["dm_verity"] or s["ima"]:
        return
    det = Text(en="filesystem root: no veritysetup, no /etc/ima, no verity/IMA kernel arguments",
               zh="文件系统根目录：没有 veritysetup、没有 /etc/ima，内核参数中也没有 verity/IMA 相关设置")
    evs = [Evidence(path="/", container=c, detail=det) for c in run.containers]
    yield Hit(key=("integrity",), evidence=evs,
              params={"detail": Text(en="searched the filesystems and the kernel command lines",
                                     zh="已检查文件系统和内核命令行")},
              data={"searched": ["veritysetup", "roothash=", "dm-mod.create", "/etc/ima", "ima_appraise"]})


@check("BOOT-006")
def verify_disabled(run: CheckRun):
    s = analyse(run)
    b = run.memo["_boot"]
    off = b["verify_off"]
    signed = [r for r in b["fits"] if r["verdict"] in ("verified", "signed_no_key", "signature_invalid")]
    for o in off:
        note = Text(en="", zh="")
        if signed:
            note = Text(en=f" The image holds signed FIT images ({', '.join(r['name'] for r in signed)}): with verify "
                           "off their signatures are not checked at boot, so the secure-boot verdict is "
                           "'verification_disabled'.",
                        zh=f"镜像中有已签名的 FIT 镜像（{', '.join(r['name'] for r in signed)}）：verify 关闭后启动时不再"
                           "校验其签名，因此安全启动结论为 'verification_disabled'（校验已关闭）。")
        yield Hit(key=("verify", o["path"], o["line"]), evidence=[o["evidence"]],
                  params={"path": o["path"], "value": o["value"], "note": note},
                  data={"value": o["value"], "where": o["where"], "signed_fits": [r["name"] for r in signed],
                        "secure_boot_verdict": s["verdict"]})
    # a boot command that loads a legacy (unsigned) uImage with bootm while signed FITs exist
    if signed and b["uimages"]:
        for r in b["envs"]:
            cmd = r["env"]["vars"].get("bootcmd", "")
            if re.search(r"\bbootm\b", cmd) and "#" not in cmd:
                yield Hit(key=("bootm-legacy", r["name"]),
                          evidence=[e.model_copy(update={"excerpt": f"bootcmd={cmd[:200]}", "detail": Text(
                              en="bootm without a FIT configuration: a legacy uImage boots unchecked",
                              zh="bootm 未指定 FIT 配置：旧式 uImage 会不经校验直接启动")}) for e in r["evidence"]],
                          params={"path": r["name"], "value": Text(en="bootm of a legacy image",
                                                                   zh="用 bootm 启动旧式镜像"),
                                  "note": Text(en=" The image also holds unsigned legacy uImages "
                                                  f"({', '.join(u['name'] for u in b['uimages'])}) next to signed FITs: "
                                                  "U-Boot boots the legacy format without any signature.",
                                               zh="镜像中在已签名 FIT 之外还有未签名的旧式 uImage"
                                                  f"（{', '.join(u['name'] for u in b['uimages'])}）：U-Boot 启动旧格式时不校验任何签名。")},
                          data={"bootcmd": cmd[:200], "legacy_images": [u["name"] for u in b["uimages"]]})
