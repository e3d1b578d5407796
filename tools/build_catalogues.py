#!/usr/bin/env python3
"""Build firmpass's framework catalogues (src/firmpass/frameworks/data/*.yaml) from the project's
reference catalogue (provisions.yaml + regulations.md, by default in /work/shared/reference).

Run:  python tools/build_catalogues.py [--ref DIR]

The package never reads the reference at run time; the YAML files written here are committed.
Chinese titles and notes are our own translations, kept in tools/catalogue_zh.yaml.
Uncertainty marks from the reference are kept as `uncertain` + a bilingual `uncertainty` text.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "firmpass" / "frameworks" / "data"

ETSI_COND_ZH = {
    1: "设备使用口令", 2: "设备出厂预置口令", 3: "部分软件组件无法更新", 4: "设备为受限设备",
    5: "设备不是受限设备", 6: "收集遥测数据", 7: "基于消费者同意处理个人数据", 8: "设备允许用户对其进行认证",
    9: "设备支持自动更新和/或更新通知", 10: "使用硬编码的每设备唯一身份用于安全目的", 11: "更新经网络接口下发",
    12: "实现了更新机制", 13: "调试接口可被物理接触",
    14: "没有用例驱动的资源约束妨碍对面向网络的认证实施暴力破解防护", 15: "没有用例驱动的资源约束妨碍实现更新机制",
    16: "存在与设备相关的关键安全参数",
}
ETSI_FEAT_ZH = {
    "a": "口令可用于用户到设备或机器间认证", "b": "使用预置的每设备唯一口令（用户或机器间认证）",
    "c": "对用户或机器使用密码学认证（含基于口令的认证）", "d": "用户可向设备认证", "e": "用户或设备可经网络接口认证",
    "f": "存在非出于安全原因而不可变的软件组件", "g": "设备软件组件可以更新", "h": "支持自动软件更新", "i": "提供更新通知",
    "j": "更新可经网络接口下发", "k": "敏感安全参数保存在持久存储中", "l": "使用硬编码的每设备唯一身份用于安全目的",
    "m": "关键安全参数用于保护更新完整性/真实性或关联服务通信", "n": "可经网络接口修改安全相关配置",
    "o": "关键安全参数会离开设备（对外传输）", "p": "存在未使用的网络接口或网络可达的逻辑接口", "q": "存在调试接口",
    "r": "存在物理端口形式的调试接口", "s": "支持安全启动或其他未授权软件修改检测机制", "t": "设备向关联服务发送个人数据",
    "u": "设备向关联服务发送敏感个人数据", "v": "设备具有外部感知能力", "w": "可从设备/产品收集遥测数据",
    "x": "关联服务可存储个人数据", "y": "基于消费者同意处理个人数据", "z": "设备处理个人数据",
    "aa": "仅为计算聚合结果而收集/处理数据",
}
GROUP_ZH = {
    "Annex I Part I - product properties": "附件一第一部分 - 产品属性",
    "Annex I Part II - vulnerability handling": "附件一第二部分 - 漏洞处理",
    "Article 13 - obligations of manufacturers": "第 13 条 - 制造商义务",
    "Article 14 - reporting obligations (applies from 2026-09-11)": "第 14 条 - 报告义务（2026-09-11 起适用）",
    "Annex II - information and instructions to the user": "附件二 - 提供给用户的信息与说明",
    "Annex III - important products, Class I": "附件三 - 重要产品第一类",
    "Annex III - important products, Class II": "附件三 - 重要产品第二类",
    "Annex IV - critical products": "附件四 - 关键产品",
    "Conformity assessment routes (Art. 32 / Art. 8)": "合格评定程序（第 32 条 / 第 8 条）",
}
# CRA groups that become assessed provisions; the classes and routes are kept as classification data.
CRA_ASSESSED = {"Annex I Part I - product properties", "Annex I Part II - vulnerability handling",
                "Article 13 - obligations of manufacturers",
                "Article 14 - reporting obligations (applies from 2026-09-11)",
                "Annex II - information and instructions to the user"}
CRA_CLASSIFY = {"Annex III - important products, Class I", "Annex III - important products, Class II",
                "Annex IV - critical products", "Conformity assessment routes (Art. 32 / Art. 8)"}
XW_KEYS = {"cra": "cra", "en18031": "en18031", "psti": "psti", "nist_ir_8425": "nistir8425", "mlps": "mlps"}



# Corrections of the reference's MLPS levels against GB/T 22239-2019 itself (issue 13): the level-2 IoT
# extension (chapter 7.4) has physical environment, area boundary and O&M items only; the IoT
# computing-environment items (perception node / gateway node device security, anti-replay, data fusion,
# 8.4.3.x) start at level 3. In 8.1.4.9 level 2 asks for off-site backup sent in scheduled batches
# (7.1.4.9 b); real-time off-site backup is a level-3 requirement.
_L3_NOTE = ("Level corrected to L3-L4 against GB/T 22239-2019 (the reference transcription said L2-L4): the level-2 "
            "IoT extension has no computing-environment items.",
            "已对照 GB/T 22239-2019 将级别更正为第三级至第四级（参考转录为第二级至第四级）：第二级物联网扩展要求不含安全计算环境条目。")
MLPS_CORRECTIONS: dict[str, dict] = {
    **{pid: {"levels": "L3-L4", "note": _L3_NOTE} for pid in ("MLPS-IoT-SN", "MLPS-IoT-GW", "MLPS-IoT-RP", "MLPS-IoT-DF")},
    "MLPS-CE-BR": {
        "paraphrase_en": "Local backup and restore of important data; off-site backup sent over the network in scheduled "
                         "batches (L2); real-time off-site backup and hot redundancy of key processing systems (L3+); "
                         "remote disaster-recovery centre (L4).",
        "paraphrase_zh": "提供重要数据本地备份恢复；第二级提供异地备份（通过网络定时批量传送至备用场地）；三级起异地实时备份、关键系统热冗余；四级建立异地灾备中心。",
        "note": ("Corrected against GB/T 22239-2019: real-time off-site backup is a level-3 requirement (level 2: scheduled "
                 "batch transfer).",
                 "已对照 GB/T 22239-2019 更正：异地实时备份为第三级要求（第二级为定时批量传送）。"),
    },
}

def T(en: str, zh: str) -> dict:
    return {"en": en, "zh": zh}


def etsi_status(raw: str | None, conds: list, feats: list) -> dict | None:
    if raw is None:
        return None
    base = "mandatory" if raw.startswith("M") else "recommended"
    conditional = " C" in raw or " F" in raw
    c = [x["n"] for x in conds]
    f = [x["k"] for x in feats]
    label = raw + (f" ({', '.join(map(str, c))}" if c else "") + ((";" if c else " (") + " " + ", ".join(f) if f else "")
    label = label + (")" if (c or f) else "")
    return {"status": "conditional" if conditional else base, "base": base, "conditions": c, "features": f,
            "raw": label.replace("( ", "(")}


def psti_ref_zh(ref: str) -> str:
    out = re.sub(r"para (\d+)", r"第 \1 段", ref).replace("Schedule", "附表").replace("Regulations Sch.", "条例附表")
    return out.replace("(sub-condition)", "（子条件）").replace("(scope)", "（范围）").replace("Act s.", "法第 ")


def note_zh(en: str, zh_notes: dict, pid: str) -> str:
    if pid in zh_notes:
        return zh_notes[pid]
    if en.strip() == "New in V3.1.3.":
        return "V3.1.3 新增。"
    m = re.match(r"Void in V3\.1\.3; (?:replaced by|split into) (\S+) and (\S+?)(?: \(.*)?\.?$", en.strip())
    if m:
        return f"V3.1.3 中已作废，由 {m.group(1)} 和 {m.group(2).rstrip('.')} 取代。"
    raise SystemExit(f"no Chinese note for {pid}: {en}")


def build(ref: Path) -> None:
    src = yaml.safe_load((ref / "provisions.yaml").read_text(encoding="utf-8"))
    zh = yaml.safe_load((HERE / "catalogue_zh.yaml").read_text(encoding="utf-8"))
    fw = src["frameworks"]
    titles = zh["titles"]

    # ---------------------------------------------------------------- cross-walk
    links: list[dict] = []
    xw: dict[str, set[str]] = {}
    for row in src["crosswalk"]["rows"]:
        ids = [row["en303645"]] + [v for v in row.get("en303645_v2_equivalent", []) if v != row["en303645"]]
        for key, fwid in XW_KEYS.items():
            for link in row.get(key, []) or []:
                other = f"{fwid}:{link['ref']}"
                for eid in ids:
                    e = f"en303645:{eid}"
                    links.append({"from": e, "to": other, "basis": link["basis"]})
                    xw.setdefault(e, set()).add(other)
                    xw.setdefault(other, set()).add(e)
    dedup = {(l["from"], l["to"]): l for l in links}

    def xref(ref_: str) -> list[str]:
        return sorted(xw.get(ref_, set()))

    OUT.mkdir(parents=True, exist_ok=True)
    header = ("# GENERATED by tools/build_catalogues.py from the firmpass reference catalogue (provisions.yaml,\n"
              "# regulations.md). Paraphrases are the reference compiler's own words, not quotations of the texts.\n")

    def dump(name: str, data: dict) -> None:
        (OUT / name).write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110),
                                encoding="utf-8")

    # ---------------------------------------------------------------- EN 303 645
    e = fw["etsi_en_303_645"]
    items = []
    n2 = n3 = 0
    for it in e["items"]:
        pid = it["id"]
        v2 = etsi_status(it["status_v2_1_1"], it["conditions_v2_1_1"], []) if it["in_v2_1_1"] else None
        v3 = etsi_status(it["status_v3_1_3"], it["conditions_v3_1_3"], it["features_v3_1_3"]) if it["in_v3_1_3"] else None
        n2 += v2 is not None
        n3 += v3 is not None
        note = it.get("note")
        uncertain = pid in {"4-1", "5.3-10", "6-6"}
        items.append({
            "id": pid, "ref": f"en303645:{pid}",
            "group": T(f"{it['clause']} {it['clause_title']}", f"{it['clause']} " + zh["groups_en303645"][it["clause"]]),
            "title": T(it["title"], titles["en303645"][pid]),
            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
            "versions": {k: v for k, v in (("V2.1.1", v2), ("V3.1.3", v3)) if v},
            "note": T(note, note_zh(note, zh["notes"], pid)) if note else None,
            "uncertain": uncertain,
            "uncertainty": (T("Status read from a public transcription of Table B.1 and disputed or reconstructed (see note); "
                              "check the official ETSI text before relying on it.",
                              "状态取自表 B.1 的公开转录，存在争议或为推断（见注释）；使用前请对照 ETSI 官方文本核实。")
                            if uncertain else None),
            "crosswalk": xref(f"en303645:{pid}"),
            "source": it["source"],
        })
    if n2 != 68 or n3 != 78:
        print(f"WARNING: reference has {n2} V2.1.1 and {n3} V3.1.3 provisions (expected 68 / 78)", file=sys.stderr)
    dump("en303645.yaml", {
        "framework": "en303645",
        "title": T("ETSI EN 303 645 - Cyber security for consumer IoT: baseline requirements",
                   "ETSI EN 303 645 - 消费类物联网网络安全基线要求"),
        "versions": {"V2.1.1": {"date": "2020-06", "provisions": n2}, "V3.1.3": {"date": "2024-09", "provisions": n3}},
        "default_version": "V3.1.3",
        "uncertainty": T("The official ETSI PDFs were not available to the compilers; statuses come from public "
                         "transcriptions of Table B.1 (two V3 transcriptions agree).",
                         "编制时无法获得 ETSI 官方 PDF；条款状态取自表 B.1 的公开转录（两份 V3 转录一致）。"),
        "conditions": {str(c["n"]): T(c["text"], ETSI_COND_ZH[c["n"]])
                       for c in e["conditions_v2_1_1"] + e["conditions_v3_1_3"]},
        "features": {f["k"]: T(f["text"], ETSI_FEAT_ZH[f["k"]]) for f in e["features_v3_1_3"]},
        "source": e["sources"] + [v["url"] for v in e["versions"].values()],
        "items": items,
    })

    # ---------------------------------------------------------------- CRA
    c = fw["eu_cra"]
    items, classes = [], []
    for it in c["items"]:
        g = it["group"]
        pid = it["id"]
        if g in CRA_ASSESSED:
            st = it["status"]
            if st.startswith("mandatory"):
                status = "mandatory"
            elif st.startswith("optional") or st.startswith("conditional"):
                status = "conditional"
            else:
                status = "informational"  # definitions and Commission powers: no obligation on the maker
            items.append({
                "id": pid, "ref": f"cra:{pid}", "group": T(g, GROUP_ZH[g]),
                "title": T(it["title"], titles["cra"][pid]),
                "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
                "status": status,
                "status_text": st,
                "deadline": it.get("deadline"),
                "note": (T("Applies 'where applicable' per the Art. 13 risk assessment; a non-applicable item needs a "
                           "written justification in the technical documentation (Art. 13(4)).",
                           "依第 13 条风险评估'在适用时'适用；不适用的条目须在技术文档中书面说明理由（第 13(4) 条）。")
                         if "where applicable" in st else None),
                "uncertain": g.startswith("Article 14"),
                "uncertainty": (T("Article 14 text verified through several secondary copies quoting the OJ, not the OJ itself.",
                                  "第 14 条文本经多份引用官方公报的二手副本核对，未直接核对官方公报。")
                                if g.startswith("Article 14") else None),
                "crosswalk": xref(f"cra:{pid}"),
                "source": [c["url"]],
            })
        elif g in CRA_CLASSIFY:
            classes.append({"id": pid, "group": T(g, GROUP_ZH[g]), "title": T(it["title"], titles["cra"][pid]),
                            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]), "status_text": it["status"]})
    dump("cra.yaml", {
        "framework": "cra",
        "title": T("EU Cyber Resilience Act - Regulation (EU) 2024/2847", "欧盟《网络韧性法案》- 条例 (EU) 2024/2847"),
        "versions": {"OJ 2024/2847": {"date": "2024-11-20"}},
        "default_version": "OJ 2024/2847",
        "dates": {"entry_into_force": "2024-12-10", "reporting_applies": "2026-09-11", "full_application": "2027-12-11"},
        "uncertainty": T("Checked against an OJ-derived machine-readable copy of the Regulation; Annex I Part I(2) items "
                         "apply where the risk assessment says so.",
                         "已对照由官方公报转换的机读文本核对；附件一第一部分第 2 点各项依风险评估结论适用。"),
        "source": c["sources"] + [c["url"]],
        "items": items,
        "classification": classes,
    })

    # ---------------------------------------------------------------- EN 18031
    r = fw["en_18031"]
    items = []
    for it in r["items"]:
        pid = it["id"]
        parts = [p.replace("EN 18031-", "") for p in it["parts"]]
        items.append({
            "id": pid, "ref": f"en18031:{pid}",
            "group": T(f"{it['mechanism']} - {it['mechanism_name']}", f"{it['mechanism']} - " + zh["mechanisms_en18031"][it["mechanism"]]),
            "title": T(it["title"], titles["en18031"][pid]),
            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
            "status": "mandatory", "status_text": it["status"],
            "parts": parts, "red_articles": it["red_articles"],
            "note": None,
            "uncertain": True,
            "uncertainty": T("Title verified from a public test plan; explanation inferred from public test material, "
                             "the normative text was not available.",
                             "标题已据公开测试计划核实；释义根据公开测试资料推断，未获得标准正文。"),
            "crosswalk": xref(f"en18031:{pid}"),
            "source": r["sources"],
        })
    dump("en18031.yaml", {
        "framework": "en18031",
        "title": T("EN 18031-1/-2/-3:2024 (RED delegated act, Art. 3(3)(d)(e)(f))",
                   "EN 18031-1/-2/-3:2024（无线电设备指令授权法案，第 3(3)(d)(e)(f) 条）"),
        "versions": {"2024": {"date": "2024", "applies_from": "2025-08-01"}},
        "default_version": "2024",
        "parts": {"1": T("internet-connected radio equipment (network protection, RED 3(3)(d))",
                         "可联网的无线电设备（网络保护，RED 3(3)(d)）"),
                  "2": T("radio equipment processing personal, traffic or location data; toys, childcare, wearables (RED 3(3)(e))",
                         "处理个人、流量或位置数据的无线电设备；玩具、儿童看护设备、可穿戴设备（RED 3(3)(e)）"),
                  "3": T("internet-connected radio equipment that transfers money or virtual currency (RED 3(3)(f))",
                         "可联网且能转移资金或虚拟货币的无线电设备（RED 3(3)(f)）")},
        "oj_restrictions": [{"id": x["id"], "clause": x["clause"], "text": T(x["paraphrase_en"], x["paraphrase_zh"])}
                            for x in r["oj_restrictions"]],
        "uncertainty": T("Normative EN 18031 text not available: requirement ids and titles verified, explanations inferred.",
                         "未获得 EN 18031 正文：要求编号和标题已核实，释义为推断。"),
        "source": r["sources"],
        "items": items,
    })

    # ---------------------------------------------------------------- PSTI
    p = fw["uk_psti"]
    items = []
    for it in p["items"]:
        pid = it["id"]
        sub = bool(re.search(r"\.[a-z]$", pid)) or pid == "PSTI-S2"
        items.append({
            "id": pid, "ref": f"psti:{pid}", "group": T(it["ref"], psti_ref_zh(it["ref"])),
            "title": T(it["title"], titles["psti"][pid]),
            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
            "status": "mandatory" if it["status"] == "mandatory" else "informational", "status_text": it["status"],
            "note": None,
            "uncertain": sub,
            "uncertainty": (T("Sub-paragraph split and the 2025 amendments come from a secondary summary; confirm at "
                              "legislation.gov.uk before printing paragraph numbers.",
                              "子段划分及 2025 年修订来自二手摘要；引用段落编号前请在 legislation.gov.uk 核实。")
                            if sub else None),
            "crosswalk": xref(f"psti:{pid}"),
            "source": p["sources"],
        })
    dump("psti.yaml", {
        "framework": "psti",
        "title": T("UK PSTI Act 2022 and Product Security Regulations 2023 (SI 2023/1007), Schedule 1",
                   "英国《产品安全和电信基础设施法》2022 及 2023 年产品安全条例（SI 2023/1007）附表 1"),
        "versions": {"SI 2023/1007": {"date": "2024-04-29"}}, "default_version": "SI 2023/1007",
        "uncertainty": T("Schedule 1/2 content cross-checked with a public summary; sub-paragraph numbering unconfirmed.",
                         "附表 1/2 内容已与公开摘要交叉核对；子段编号未确认。"),
        "source": p["sources"], "items": items,
    })

    # ---------------------------------------------------------------- NIST IR 8425
    n = fw["nist_ir_8425"]
    items = []
    for it in n["items"]:
        pid = it["id"]
        ver = it["verification"]
        unc = any(w in ver for w in ("unverified", "memory", "partially"))
        items.append({
            "id": pid, "ref": f"nistir8425:{pid}",
            "group": T(f"{it['family']} ({it['kind']})", f"{titles['nistir8425'][pid.split('-')[0] + '-' + pid.split('-')[1]]}（{'技术' if it['kind'] == 'technical' else '非技术'}）"),
            "title": T(it["title"], titles["nistir8425"][pid]),
            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
            "status": "mandatory", "status_text": it["status"], "kind": it["kind"],
            "note": T("Required for the US Cyber Trust Mark label; the programme itself is voluntary.",
                      "申请美国 Cyber Trust Mark 标签时必须满足；该计划本身为自愿性质。"),
            "uncertain": unc,
            "uncertainty": (T(f"Verification in the reference: {ver}.", f"参考目录中的核实情况：{zh['nist_verification'][ver]}。")
                            if unc else None),
            "crosswalk": xref(f"nistir8425:{pid}"),
            "source": n["sources"],
        })
    dump("nistir8425.yaml", {
        "framework": "nistir8425",
        "title": T("NIST IR 8425 - consumer IoT baseline (US Cyber Trust Mark)", "NIST IR 8425 - 消费类物联网基线（美国 Cyber Trust Mark）"),
        "versions": {"2022-09": {"date": "2022-09"}}, "default_version": "2022-09",
        "uncertainty": T("Some lettered sub-outcomes are reconstructed from memory by the reference compiler and marked.",
                         "部分子结果由参考目录编制者凭记忆重建，已逐条标注。"),
        "source": n["sources"], "items": items,
    })

    # ---------------------------------------------------------------- MLPS
    m = fw["cn_mlps_gbt_22239_2019"]
    items = []
    for it in m["items"]:
        pid = it["id"]
        fix = MLPS_CORRECTIONS.get(pid, {})
        it = {**it, **{k: v for k, v in fix.items() if k in ("levels", "paraphrase_en", "paraphrase_zh")}}
        unc = "not verified" in it["levels"]
        items.append({
            "id": pid, "ref": f"mlps:{pid}",
            "group": T(f"{it['clause']} {it['layer']}", f"{it['clause']} {it['layer'].split('/')[-1]}"),
            "title": T(it["title"], it["title_zh"]),
            "explanation": T(it["paraphrase_en"], it["paraphrase_zh"]),
            "status": "mandatory", "status_text": it["status"], "levels": it["levels"], "clause": it["clause"],
            "note": T(*fix["note"]) if fix.get("note") else None,
            "uncertain": unc,
            "uncertainty": (T("Level-1 applicability of this IoT extension item not verified.",
                              "该物联网扩展项在第一级是否适用未经核实。") if unc else None),
            "crosswalk": xref(f"mlps:{pid}"),
            "source": m["sources"],
        })
    dump("mlps.yaml", {
        "framework": "mlps",
        # the level is the operator's system's (profile mlps_level): the assessment puts it in the heading
        "title": T("China MLPS 2.0 - GB/T 22239-2019 (general and IoT extension)",
                   "中国网络安全等级保护 2.0 - GB/T 22239-2019（通用要求与物联网扩展要求）"),
        "versions": {"GB/T 22239-2019": {"date": "2019-05"}}, "default_version": "GB/T 22239-2019",
        "uncertainty": T("MLPS applies to classified systems operated in China, not to products: a device maker meets it "
                         "through its customers' systems. Items verified from public transcriptions, not the SAMR "
                         "original. Product-level Chinese rules (GB 40050-2021, CCC, MIIT rules, PIPL) are not covered.",
                         "等级保护适用于在中国运营的定级系统而非产品：设备厂商通过客户系统间接满足。条目据公开转录核对，"
                         "未对照国家标准原文。未覆盖产品层面的中国规则（GB 40050-2021、CCC、工信部规定、个人信息保护法）。"),
        "source": m["sources"], "items": items,
    })

    # ---------------------------------------------------------------- cross-walk
    dump("crosswalk.yaml", {
        "basis": {k: v for k, v in src["crosswalk"]["basis_legend"].items()},
        "basis_zh": {"established": "法律或标准文本明示的关系（如 PSTI 条例附表 2 经 EN 303 645 视为合规）",
                     "derived": "参考目录编制者按内容比对得出；使用前请核实"},
        "links": sorted(dedup.values(), key=lambda l: (l["from"], l["to"])),
    })
    print(f"wrote catalogues to {OUT}: EN 303 645 V2.1.1={n2} V3.1.3={n3}, links={len(dedup)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ref", type=Path, default=Path("/work/shared/reference"))
    build(ap.parse_args().ref)
