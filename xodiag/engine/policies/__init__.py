"""Policies: XO's behaviour and the proposed fixes, as data plus small code (one module each).

Adding a policy is one small module defining ``POLICY`` plus its name in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

NO_NBD_AVAILABLE = "NO_NBD_AVAILABLE"


@dataclass(frozen=True)
class InitError:
    """An error seen by #openNbdStream's catch: what it is and whether the stream was already closed."""

    code: str | None
    message: str
    stream_closed: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    summary: str
    # Which errors raised while setting up NBD (#openNbdStream's catch) become a fallback to the stream.
    fallback_codes: frozenset[str] | None  # None: every error
    # Only errors raised before the unused stream is destroyed may fall back (the corrected policy).
    fallback_before_close_only: bool = False
    # Attach an error listener before destroying the unused qcow2 stream: no 'unhandled error event'.
    silent_close: bool = False

    def falls_back(self, err: InitError) -> bool:
        if self.fallback_before_close_only and err.stream_closed:
            return False
        return self.fallback_codes is None or (err.code or "") in self.fallback_codes


_MODULES = ("xo_2026_04", "report_fix_aborted", "report_fix_any", "corrected")
POLICIES: dict[str, Policy] = {}
for _m in _MODULES:
    _p = importlib.import_module(f"xodiag.engine.policies.{_m}").POLICY
    POLICIES[_p.name] = _p
