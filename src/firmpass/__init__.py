"""firmpass: firmware security evidence for export markets."""


def __getattr__(name: str):
    """`__version__` from the installed package's metadata, looked up on first use: importlib.metadata
    costs ~50 ms, which `firmpass --help` need not pay."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("firmpass")
        except PackageNotFoundError:  # running from a source tree
            v = "0.1.0"
        globals()["__version__"] = v
        return v
    raise AttributeError(name)


from firmpass import _iri  # noqa: E402

_iri.install()  # jsonschema's IRI checker loads its grammar only when an IRI is checked
