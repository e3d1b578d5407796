"""The typed sections of ScanResult.extra: the stage summaries (kernel, busybox, vuln_db, hardening,
secure boot, the checks that ran, ...) under their published names.

findings.json keeps the published names (extra.kernel, extra.hardening, ...).  Each known section is
validated through its model when a result is built or loaded, and stored back as the same dict (only
the keys that were there: `exclude_unset`), so readers of the dicts keep working; a section an older
or hand-edited file wrote in another shape is kept as it was rather than losing the file.
`ScanResult.section(name)` gives the typed view.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, RootModel

from .base import _M


class InventorySummary(_M):
    hashed: int = 0  # files hashed
    elf: int = 0  # of them ELF files


class KernelFacts(_M):
    version: str | None = None  # upstream version, e.g. 6.1.192
    release: str | None = None  # the kernel's own release string, e.g. 6.1.0-57-cloud-amd64
    config: dict[str, str] | None = None  # CONFIG_* from /boot/config-* or the embedded ikconfig
    modules: list[str] = Field(default_factory=list)  # kernel modules found (paths)


class BusyboxFacts(_M):
    version: str | None = None
    applets: list[str] = Field(default_factory=list)  # applets compiled in


class VulnDbSummary(_M):
    path: str | None = None  # the store the scan matched against (as shown to the user)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)  # feed -> records, last_update, data_date
    counts: dict[str, Any] = Field(default_factory=dict)
    empty: bool = True
    matched: dict[str, Any] | None = None  # total and by VEX state


class HardeningSummary(_M):
    elf_count: int = 0
    executables: int = 0
    nx: int = 0
    pie: int = 0
    relro_full: int = 0
    relro_partial: int = 0
    canary: int = 0
    canary_unknown: int = 0  # static binaries without a symbol table: cannot tell
    fortify: int = 0
    stripped: int = 0
    rpath: int = 0
    static: int = 0
    files: dict[str, dict[str, Any]] = Field(default_factory=dict)  # path -> its facts


class SecureBootSummary(_M):
    verdict: str = "unknown"  # signed / unsigned / signed_no_key / verification_disabled / unknown ...
    images: list[dict[str, Any]] = Field(default_factory=list)  # per boot image: kind, verdict, locations


class ChecksRun(RootModel[list[str]]):
    """The ids of the checks that ran to completion (extra.checks_run: a JSON list of ids): the assess
    stage counts "ran and found nothing" only for these."""

    def __iter__(self):  # the ids, as the published list reads
        return iter(self.root)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self.root

    def __len__(self) -> int:
        return len(self.root)


class RtosHit(_M):
    """One real-time OS the identify stage named from a blob's strings (extra.rtos)."""
    name: str
    version: str | None = None
    evidence: str = ""  # the string that matched
    path: str = ""  # the blob, as stored in the image
    container: str = ""  # ContainerNode.id


class UpdaterFacts(_M):
    """An update mechanism the checks stage found (extra.checks_updates)."""
    updater: str
    files: list[str] = Field(default_factory=list)
    signature_verification: bool | None = None  # None: a web upload handler, not decidable from its files
    anti_rollback: bool = False
    ab_or_recovery: bool = False
    urls: list[str] = Field(default_factory=list)


class RemoteLog(_M):
    path: str
    line: int
    target: str  # host:port the logs go to
    via: str  # e.g. "syslogd -R", "syslog-ng"
    container: str = ""


class LocalLog(_M):
    path: str
    target: str  # the file the logs are written to


class LogDaemon(_M):
    path: str
    line: int
    command: str


class LoggingFacts(_M):
    """Where the firmware's logs go (extra.checks_logging)."""
    remote: list[RemoteLog] = Field(default_factory=list)
    local: list[LocalLog] = Field(default_factory=list)
    daemons: list[LogDaemon] = Field(default_factory=list)


class ServiceStart(_M):
    """A network service the boot sequence starts, with the file and line that start it (extra.checks_services)."""
    service: str
    class_: str = Field(alias="class")  # cleartext / ssh / web / ... (checks/startup.py DAEMONS)
    path: str
    line: int
    command: str = ""
    via: str = ""  # init-script / inittab / systemd ...
    container: str = ""
    chain: list[str] = Field(default_factory=list)  # path:line of each script on the way


EXTRA_SECTIONS: dict[str, Any] = {
    "inventory": InventorySummary, "kernel": KernelFacts, "busybox": BusyboxFacts, "vuln_db": VulnDbSummary,
    "hardening": HardeningSummary, "secure_boot": SecureBootSummary, "checks_run": ChecksRun,
    "rtos": list[RtosHit], "checks_updates": list[UpdaterFacts], "checks_logging": LoggingFacts,
    "checks_services": list[ServiceStart],
}


@lru_cache(maxsize=None)
def adapter(name: str):
    """The (cached) pydantic TypeAdapter of a known section."""
    from pydantic import TypeAdapter

    return TypeAdapter(EXTRA_SECTIONS[name])


def typed_section(name: str, value: Any) -> Any:
    """Validate a known section through its type and give it back in its published (JSON) shape."""
    from pydantic import ValidationError

    ta = adapter(name)
    try:
        return ta.dump_python(ta.validate_python(value), exclude_unset=True, by_alias=True)
    except ValidationError:
        return value  # an older or foreign shape: kept, never the reason a findings.json does not load
