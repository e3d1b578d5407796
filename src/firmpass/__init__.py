"""firmpass: firmware security evidence for export markets."""
from importlib.metadata import PackageNotFoundError, version as _v

try:
    __version__ = _v("firmpass")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"
