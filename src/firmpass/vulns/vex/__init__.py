"""VEX in and out.

In (vulns.vex.triage): a user's triage as CycloneDX VEX, OpenVEX or CSAF VEX -> triage rows keyed by
(vulnerability, product without version) so a decision sticks across rescans and firmware versions.
Out: `to_csaf` (CSAF 2.0, profile csaf_vex) and `validate_csaf` against the vendored CSAF 2.0 schema
(vulns.vex.csaf), `to_cyclonedx_vex` (CycloneDX 1.5 VEX, vulns.vex.cyclonedx).  The vocabularies and
product keys they share are in vulns.vex.common.  Callers import from here.
"""
from __future__ import annotations

from firmpass.vulns.vex.common import (CDX_TO_CSAF, CDX_TO_STATE, CSAF_TO_CDX, STATE_TO_CDX, product_keys,
                                       purl_key)
from firmpass.vulns.vex.csaf import not_decisive, remediation_for, to_csaf, validate_csaf
from firmpass.vulns.vex.cyclonedx import to_cyclonedx_vex
from firmpass.vulns.vex.triage import (MAX_VEX_BYTES, MAX_VEX_DEPTH, check_vex_file, load_triage_files,
                                       parse_triage)

__all__ = ["CDX_TO_CSAF", "CDX_TO_STATE", "CSAF_TO_CDX", "STATE_TO_CDX", "MAX_VEX_BYTES", "MAX_VEX_DEPTH",
           "check_vex_file", "load_triage_files", "not_decisive", "parse_triage", "product_keys", "purl_key",
           "remediation_for", "to_csaf", "to_cyclonedx_vex", "validate_csaf"]
