from firmpass import frameworks


def test_en303645_counts_and_statuses():
    v2, v3 = frameworks.items("en303645", "V2.1.1"), frameworks.items("en303645", "V3.1.3")
    assert len(v2) == 68 and len(v3) == 78
    assert sum(1 for i in v2 if i["status_detail"]["base"] == "mandatory") == 33
    assert sum(1 for i in v3 if i["status_detail"]["base"] == "mandatory") == 36
    p = {i["id"]: i for i in v3}
    assert p["5.1-5"]["status"] == "conditional" and p["5.1-5"]["status_detail"]["conditions"] == [14]
    assert p["5.1-5"]["status_detail"]["features"] == ["e"]
    assert p["5.2-1"]["status"] == "mandatory" and p["5.9-1"]["status"] == "recommended"
    assert "5.3-4" not in p and "5.3-4B" in p and "4-1" not in p and "5.0-1" in p


def test_every_item_bilingual_with_ref_and_visible_uncertainty():
    for fw in frameworks.FRAMEWORK_IDS:
        for it in frameworks.catalogue(fw)["items"]:
            assert it["ref"] == f"{fw}:{it['id']}"
            for k in ("title", "explanation"):
                assert it[k]["en"].strip() and it[k]["zh"].strip(), it["ref"]
            if it["uncertain"]:
                assert it["uncertainty"]["en"] and it["uncertainty"]["zh"], it["ref"]
    assert all(i["uncertain"] for i in frameworks.items("en18031"))
    assert frameworks.get("en303645:6-6")["uncertain"] and not frameworks.get("en303645:5.1-1")["uncertain"]
    assert frameworks.get("nistir8425:8425-SU-2")["uncertain"] and not frameworks.get("nistir8425:8425-AI")["uncertain"]


def test_cra_scope_and_crosswalk():
    ids = {i["id"] for i in frameworks.items("cra")}
    assert {f"AnnexI.PartI.2.{c}" for c in "abcdefghijklm"} <= ids and {f"AnnexI.PartII.{n}" for n in range(1, 9)} <= ids
    assert {"Art13.8", "Art14.2.a", "AnnexII.9"} <= ids
    assert len(frameworks.catalogue("cra")["classification"]) == 30  # Annex III I (19) + II (4) + IV (3) + routes (4)
    # PSTI Schedule 2 deemed compliance is an established link in both directions
    assert "en303645:5.1-1" in frameworks.get("psti:PSTI-S1-1")["crosswalk"]
    assert "psti:PSTI-S1-1" in frameworks.get("en303645:5.1-1")["crosswalk"]
    every = {i["ref"] for fw in frameworks.FRAMEWORK_IDS for i in frameworks.catalogue(fw)["items"]}
    for link in frameworks.crosswalk()["links"]:
        assert link["from"] in every, link


def test_cra_class_table_cites_annex_points():
    row = frameworks.guess_cra_category("Wi-Fi router for home use")
    assert row["class"] == "important-I" and row["annex"] == "AnnexIII.ClassI.12"
    assert frameworks.cra_class_for("firewall")["annex"] == "AnnexIII.ClassII.2"
    assert frameworks.cra_class_for("smartcard")["class"] == "critical"
    cra_ids = {c["id"] for c in frameworks.catalogue("cra")["classification"]}
    for r in frameworks.cra_classes()["categories"]:
        assert r["annex"] is None or r["annex"] in cra_ids
