"""The checker: what a run did, from its outcome and history, in the matrix's terms."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from xodiag.engine.export import Outcome


@dataclass
class RunResult:
    scenario: str
    policy: str
    outcome: str  # succeeded | failed | hung
    path: str  # nbd | stream | none
    data_verified: bool
    sha256_source: str
    sha256_copy: str | None
    connects: int
    failed_connects: int
    retries: int
    reconnects: int
    error: str | None
    duration_s: float  # as measured, with XO's timeouts scaled by time_scale
    duration_real_s: float  # the same run with XO's real timeouts (duration / time_scale for the waits)
    logged_abort_noise: bool
    seed: int
    analyze_outcome: str | None = None
    analyze_nbd: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check(scenario: str, policy: str, out: Outcome, sha_source: str, duration: float, time_scale: float,
          seed: int) -> RunResult:
    """``out.waited`` is the part of ``duration`` spent in XO's (scaled) timeouts and waits: the real-time
    equivalent scales that part back up."""
    waited = min(out.waited, duration)
    verified = out.outcome == "succeeded" and out.sha256_copy == sha_source
    outcome = out.outcome
    if outcome == "succeeded" and not verified:
        outcome = "failed"  # finished but copied the wrong bytes: a silent corruption is a failure
    real = duration - waited + (waited / time_scale if time_scale else waited)
    return RunResult(
        scenario=scenario, policy=policy, outcome=outcome, path=out.path, data_verified=verified,
        sha256_source=sha_source, sha256_copy=out.sha256_copy, connects=out.connects,
        failed_connects=out.failed_connects, retries=out.retries, reconnects=out.reconnects,
        error=out.error if outcome != "succeeded" else None, duration_s=round(duration, 3),
        duration_real_s=round(real, 3), logged_abort_noise=out.logged_abort_noise, seed=seed,
    )
