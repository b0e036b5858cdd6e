"""The analysis as JSON (schema documented in docs/analysis-json.md)."""

from __future__ import annotations

from typing import Any

from xodiag.diagnose import Diagnosis

SCHEMA_VERSION = 1


def analysis(diag: Diagnosis) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "inputs": [
            {"path": s.path, "format": s.format, "lines": s.lines, "unparsed": s.unparsed}
            for s in diag.inputs
        ],
        "verdict": diag.verdict.as_json(),
        "findings": [f.as_json() for f in diag.findings],
        "clock_skew_s": diag.timeline.skew,
        "incomplete": diag.incomplete,
    }
