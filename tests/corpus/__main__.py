"""`python -m tests.corpus build [--force]`: build (or reuse) the test corpus and print where it is."""
import sys

from tests.corpus import build

if sys.argv[1:2] != ["build"]:
    sys.exit("usage: python -m tests.corpus build [--force]")
print(build(force="--force" in sys.argv, verbose=True))
