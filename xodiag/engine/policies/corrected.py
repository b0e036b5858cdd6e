"""What the evidence supports (xo-export-path.md 7.6): listen before destroying the unused stream, turn
errors raised before the stream is closed into a fallback, never fall back onto a destroyed stream."""

from xodiag.engine.policies import Policy

POLICY = Policy(
    name="corrected",
    summary="error listener before destroy; errors before the stream is closed fall back; never after",
    fallback_codes=None,
    fallback_before_close_only=True,
    silent_close=True,
)
