"""Every signature rule proven: on a real corpus binary where the corpus has one, else on a crafted
string sample (marked `crafted` in the test id)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from firmpass.identify import rule_for_package
from firmpass.formats.elf import data_view
from firmpass.formats.elf import facts as dyn_info
from firmpass.identify.pkgdb import debian_upstream
from firmpass.identify import releases
from firmpass.identify.signatures import load_rules, match_file, match_rule, version_strings

RULES = load_rules()
# products whose version comes from their library file name through identify/rules/soname-releases.yaml
TABLE_RULES = {row["rule"] for row in releases.rows()}
CORPUS_RULES = [r for r in RULES if r.corpus]
FIELD = Path(__file__).resolve().parents[1] / "fixtures" / "identify" / "field" / "samples.json"
# rules of signatures.yaml whose crafted sample gave way to a real Debian binary (make_samples.py)
PROOFS = json.loads((FIELD.parent / "proofs.json").read_text())["proofs"]
SAMPLE_RULES = [r for r in RULES if not r.corpus and not r.deb and r.id not in PROOFS]
DEB_RULES = [r for r in RULES if r.deb or r.id in PROOFS]


def test_rule_table_size_and_shape():
    assert len(RULES) >= 400
    for r in RULES:
        assert r.corpus or r.deb or r.id in PROOFS or (r.sample and len(r.sample) == 2), \
            f"{r.id}: needs a corpus binary, a Debian binary's real strings or a string sample"
        assert r.anywhere or r.owned or r.bare or r.fname or r.id in TABLE_RULES, f"{r.id}: no pattern"
        if r.cpe:
            assert re.fullmatch(r"[a-z0-9_.\-]+:[a-z0-9_.\-+]+", r.cpe), r.cpe
        assert r.files is not None, f"{r.id}: no file-name hint"


def test_cpe_names_agree_with_nvd(fixtures):
    """Where the NVD subset names a product, the rule uses exactly NVD's vendor:product (or lists it as an alias)."""
    nvd = set(json.loads((fixtures / "identify" / "nvd_cpe_names.json").read_text())["pairs"])
    nvd_products = {p.split(":")[1]: p for p in nvd}
    checked = 0
    for r in RULES:
        if not r.cpe:
            continue
        product = r.cpe.split(":")[1]
        if product in nvd_products:
            names = {r.cpe, *r.cpe_aliases}
            assert names & nvd, f"{r.id}: {r.cpe} not among NVD names {[p for p in nvd if p.endswith(':' + product)]}"
            checked += 1
    assert checked >= 25


@pytest.mark.parametrize("rule", CORPUS_RULES, ids=[f"corpus-{r.id}" for r in CORPUS_RULES])
def test_rule_on_corpus_binary(rule, corpus, truth):
    """`corpus: /path` is a file of the corpus rootfs; `corpus: extra:/path` one of extra-rootfs (real
    Debian binaries without a package database, tests/corpus/build-xtra-pkgless.sh)."""
    if rule.corpus.startswith("extra:"):
        p = Path(corpus) / "extra-rootfs" / rule.corpus.removeprefix("extra:").lstrip("/")
        pkgs = json.loads((Path(corpus) / "extra-rootfs.json").read_text())["packages"]
        expected = {debian_upstream(t["version"]) for t in pkgs
                    if (r := rule_for_package(t["package"], t["source"])) is not None and r.id == rule.id}
    else:
        p = Path(corpus) / "rootfs" / rule.corpus.lstrip("/")
        expected = {t["upstream"] for t in truth if t["rule"] == rule.id}
    data = p.read_bytes()
    dyn = dyn_info(data)
    ms = [m for m in match_file(p.name, version_strings(data_view(data, dyn)), needed=dyn.needed if dyn else None,
                                dirname=str(Path(rule.corpus.removeprefix("extra:")).parent))
          if m.rule.id == rule.id]
    assert ms and ms[0].version, f"{rule.id} found nothing in {rule.corpus}"
    assert ms[0].version in expected, (ms[0].version, expected)


@pytest.mark.parametrize("rule", DEB_RULES, ids=[f"deb-{r.id}" for r in DEB_RULES])
def test_rule_on_real_debian_strings(rule):
    """A rule of rules/field.yaml on the real strings of its Debian binary (samples.json, recorded by
    make_samples.py from the .deb: package, Debian version, file): the rule finds the package's exact
    upstream version under the file's real name, no other rule claims a version there, and under
    another file's name the owned strings prove nothing."""
    s = json.loads(FIELD.read_text())["samples"].get(rule.id)
    assert s is not None, f"{rule.id}: no recorded sample (run tests/fixtures/identify/field/make_samples.py)"
    assert [s["package"], s["file"]] == (rule.deb or PROOFS[rule.id])
    assert s["expect"] == debian_upstream(s["version"])
    # the strings among unrelated bytes, through the same extraction as a real binary
    blob = b"\x7fELF\x00GLIBC_2.4\x00\x01" + b"\x00".join(x.encode() for x in s["strings"]) + b"\x00\xff"
    text = version_strings(blob)
    base = Path(s["file"]).name
    ms = [m for m in match_file(base, text, needed=s["needed"], dirname=str(Path(s["file"]).parent)) if m.version]
    assert [(m.rule.id, m.version) for m in ms] == [(rule.id, s["expect"])]
    if not rule.anywhere:
        assert not [m for m in match_file("unrelated-name", text) if m.rule.id == rule.id and m.version]


def test_real_proofs_outnumber_crafted_samples():
    """Every rule proven on real bytes (a corpus binary or a Debian binary's recorded strings) but for
    the few products Debian does not ship and the corpus lacks (their crafted samples stay marked)."""
    real = [r for r in RULES if r.corpus or r.deb or r.id in PROOFS]
    assert len(real) >= 390 and len(real) >= 3 * len(SAMPLE_RULES), (len(real), len(SAMPLE_RULES))


def test_field_rules_are_new_products():
    """field.yaml adds products: no id, CPE or Debian source of it is already in signatures.yaml."""
    first = [r for r in RULES if not r.deb]
    field = [r for r in RULES if r.deb]
    assert len(field) >= 160
    ids = {r.id for r in first}
    cpes = {c for r in first for c in (r.cpe, *r.cpe_aliases) if c}
    srcs = {d for r in first for d in r.debian}
    for r in field:
        assert r.id not in ids and not (r.cpe and r.cpe in cpes) and not set(r.debian) & srcs, r.id
        assert not r.anywhere, f"{r.id}: field rules use owned or bare patterns only"


@pytest.mark.parametrize("rule", SAMPLE_RULES, ids=[f"crafted-{r.id}" for r in SAMPLE_RULES])
def test_rule_on_crafted_sample(rule):
    text, expected = rule.sample
    if rule.fname is not None and not rule.anywhere and not rule.owned:
        m = match_rule(rule, text, "", True, True)
    else:
        # the sample among unrelated bytes, through the same string extraction as a real binary;
        # owned patterns need an owning file
        blob = b"\x7fELF\x00GLIBC_2.4\x00\x01\x02" + text.encode() + b"\x00version %d.%d\x00\xff"
        m = match_rule(rule, "x", version_strings(blob), True, True)
    assert m is not None and m.version == expected, (m and m.version, expected)
    if rule.anywhere and not rule.embeddable:
        # the same banner quoted inside another product's binary is not evidence
        assert match_rule(rule, "x", text, is_owner=False, other_owner=True) is None


def test_most_specific_version_and_zlib_exclusion():
    rules = {r.id: r for r in RULES}
    txt = "OpenSSH_9.2\nOpenSSH_9.2p1 Debian-2+deb12u10"  # as in Debian's sshd
    assert match_rule(rules["openssh"], "sshd", txt, True, False).version == "9.2p1"
    assert match_rule(rules["openssh"], "sshd", "OpenSSH_9.2p1\nOpenSSH_8.4p1", True, False) is None or \
        match_rule(rules["openssh"], "sshd", "OpenSSH_9.2p1\nOpenSSH_8.4p1", True, False).version is None
    # libzip.so: the only bare version is zlib's, compiled in for deflateInit_
    assert match_rule(rules["libzip"], "libzip.so.4.0", "1.2.13", True, False, links_zlib=True).version is None
    assert match_rule(rules["libzip"], "libzip.so.4.0", "1.2.13", True, False, links_zlib=False).version == "1.2.13"


def test_anchoring_rejects_near_misses():
    rules = {r.id: r for r in RULES}
    assert match_rule(rules["busybox"], "x", "BusyBox v1.35.0", False, False) is None  # no build info: not the banner
    assert match_rule(rules["dnsmasq"], "x", "dnsmasq-2.90-rc1x", False, False) is None
    assert match_rule(rules["openssl"], "libcrypto.so.3", "OpenSSL 3.0.22", True, False).version is None
    assert match_rule(rules["zlib"], "x", "deflate 1.2.13 Copyright 1995-2022 Someone Else", False, False) is None


def test_banner_prefilter_literals_are_in_every_match():
    """match_file skips a banner pattern whose required literal is not in the text: the literal must be
    in every string the pattern matches (checked on each rule's sample)."""
    from firmpass.identify.signatures import required_literal

    assert required_literal(r"^BusyBox v(?P<v>\d+\.\d+) \(") == "BusyBox v"
    assert required_literal(r"(?:MiniUPnPd|miniupnpd)/(?P<v>\d+)") is None  # only "/" outside the group
    for r in RULES:
        for rx, lit in zip(r.anywhere, r.anywhere_lits):
            for text in ([r.sample[0]] if r.sample else []):
                for m in rx.finditer(text):
                    assert lit is None or lit in m.group(0), (r.id, rx.pattern, lit)
