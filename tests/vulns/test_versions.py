import pytest

from firmpass.vulns.versions import compare, debian_upstream, in_range


@pytest.mark.parametrize("a,b", [
    ("1.1.1", "1.1.1k"), ("1.1.1k", "1.1.1l"), ("1.1.1z", "1.1.1za"), ("1.1.1zg", "1.1.1zh"),
    ("2020.81", "2022.83"), ("2022.83", "2024.84"), ("1.36.0", "1.36.1"), ("2.6.36", "2.6.36.4"),
    ("0.9.33", "0.9.33.2"), ("3.0.9", "3.0.11"), ("1.0.0-rc1", "1.0.0"), ("1.0.0-alpha", "1.0.0-beta"),
    ("7.4", "7.4p1"), ("2.78rc4", "2.78"), ("1.4.9", "1.4.69"),
])
def test_order(a, b):
    assert compare(a, b) == -1
    assert compare(b, a) == 1


def test_debian_versions():
    assert debian_upstream("1:1.35.0-4+deb12u1+b1") == "1.35.0"
    assert debian_upstream("3.0.22-1~deb12u2") == "3.0.22"
    assert compare("2.76-5+deb9u1", "2.76-5", "deb") == 1
    assert compare("3.0.11-1~deb12u1", "3.0.11-1", "deb") == -1  # tilde sorts before
    assert compare("1:1.0", "2.0", "deb") == 1  # epoch wins


def test_ranges():
    assert in_range("7.88.1", start_incl="7.88.0", end_incl="7.88.1")
    assert not in_range("8.0.0", start_incl="7.88.0", end_incl="7.88.1")
    assert not in_range("2.78", end_excl="2.78")
    assert in_range("1.1.1k", start_incl="1.1.1", end_excl="1.1.1l", scheme="openssl")
