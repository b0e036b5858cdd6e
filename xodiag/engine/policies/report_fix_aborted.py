"""The fix proposed in the April 2026 bug report: also fall back on UND_ERR_ABORTED in #openNbdStream."""

from xodiag.engine.policies import NO_NBD_AVAILABLE, Policy

POLICY = Policy(
    name="report-fix-aborted",
    summary="bug report's fix: #openNbdStream also falls back on UND_ERR_ABORTED",
    fallback_codes=frozenset({NO_NBD_AVAILABLE, "UND_ERR_ABORTED"}),
)
