"""A fast slice of the mutation fuzzer (bench/fuzz.py): a few seeded inputs per parser harness run
on every suite run; the long runs are `python -m bench.fuzz --seconds N`.  A crasher found by a long
run is kept as a test that calls fuzz.replay(harness, seed, iteration) - the same input regenerated from
code - and runs fuzz.harness(harness) on it (no crasher found so far)."""
import pytest

from bench import fuzz

@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fuzz.seeds(tmp_path_factory.mktemp("seeds"))


@pytest.mark.parametrize("name", ["tar", "cpio", "zip", "gzip", "xz", "lzma", "bzip2", "zstd", "android-sparse",
                                  "trx", "uimage", "squashfs", "ext4", "jffs2", "vex", "dpkg-status", "apk-installed"])
def test_fuzz_slice(seeds, name):
    if name not in seeds:
        pytest.skip(f"no seed for {name} (its tool is not installed)")
    others = [x for v in seeds.values() for x in v]
    st = fuzz.fuzz(name, seeds[name], others, iterations=12, seed=1)
    assert st["iterations"] == 12
    assert not st["crashes"], st["crashes"]
