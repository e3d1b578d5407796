"""B4: a shadow hash that asks for an enormous cost (sha512-crypt rounds, bcrypt cost) is not verified:
the cost is read from the string first, the check returns at once with a bilingual warning naming
the file and line, and cheap hashes beside it are still cracked."""
import time
from pathlib import Path

from passlib.hash import md5_crypt

from tests.checks.conftest import run_checks
from tests.treectx import context_from_tree


def _scan(tmp_path: Path, shadow: str):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nadmin:x:1000:1000::/:/bin/sh\n"
                                     "ops:x:1001:1001::/:/bin/sh\n")
    (root / "etc/shadow").write_text(shadow)
    return run_checks(context_from_tree(root, tmp_path / "out")).result


def test_huge_rounds_and_bcrypt_cost_are_skipped_fast(tmp_path):
    # a real sha512-crypt string whose rounds field asks for ~18 minutes per verify, and bcrypt cost 31
    huge_sha = "$6$rounds=999999999$abcdefgh$" + "A" * 86
    huge_bcrypt = "$2b$31$" + "a" * 53
    cheap = md5_crypt.using(salt="xyz").hash("admin")
    t0 = time.perf_counter()
    r = _scan(tmp_path, f"root:{huge_sha}:1::::::\nadmin:{cheap}:1::::::\nops:{huge_bcrypt}:1::::::\n")
    assert time.perf_counter() - t0 < 20
    skipped = [w for w in r.warnings if w.code == "hash_cost_skipped"]
    assert {(w.message.en.split()[4]) for w in skipped} == {"root", "ops"}
    assert all("/etc/shadow line" in w.message.en and "/etc/shadow 第" in w.message.zh for w in skipped)
    assert any("999999999" in w.message.en for w in skipped) and any("cost 31" in w.message.en for w in skipped)
    # the cheap hash beside them is still cracked
    assert [f.data["user"] for f in r.findings if f.check == "CRED-002"] == ["admin"]


def test_default_rounds_still_cracked(tmp_path):
    from passlib.hash import sha512_crypt

    h = sha512_crypt.using(rounds=5000, salt="saltsalt").hash("root")
    r = _scan(tmp_path, f"root:{h}:1::::::\n")
    assert [f.data["user"] for f in r.findings if f.check == "CRED-002"] == ["root"]
    assert not [w for w in r.warnings if w.code == "hash_cost_skipped"]
