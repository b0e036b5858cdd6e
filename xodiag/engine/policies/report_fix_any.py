"""The bug report's second variant: fall back to the stream export on any error."""

from xodiag.engine.policies import Policy

POLICY = Policy(
    name="report-fix-any",
    summary="bug report's variant: #openNbdStream falls back on any error",
    fallback_codes=None,
)
