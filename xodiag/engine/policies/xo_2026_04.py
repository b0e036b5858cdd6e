"""XO's behaviour in April 2026 (at 43d86038b1, unchanged up to August 2026 for this path)."""

from xodiag.engine.policies import NO_NBD_AVAILABLE, Policy

POLICY = Policy(
    name="xo-2026.04",
    summary="XO as of April 2026: fall back only on NO_NBD_AVAILABLE; qcow2 close logs RequestAbortedError",
    fallback_codes=frozenset({NO_NBD_AVAILABLE}),
)
