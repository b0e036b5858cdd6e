"""Findings (what a rule concluded) and the verdict built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CATEGORIES = (
    "cleanup-noise", "nbd-unavailable", "nbd-connect-failed", "nbd-read-failed", "vdi-in-use",
    "export-timeout", "export-aborted", "target-write-failed", "xapi-unreachable", "storage-error",
    "xo-internal-error", "unknown",
)
ROLES = ("root-cause", "contributing", "consequence", "noise", "fallback", "info")
# Ranking: a root cause first, then what contributed, then consequences; noise and info last.
ROLE_RANK = {"root-cause": 0, "contributing": 1, "consequence": 2, "fallback": 3, "noise": 4, "info": 5}
NBD_STATES = ("used", "fell-back", "not-attempted", "unknown")


@dataclass
class Evidence:
    path: str
    line: int
    time: str | None
    text: str


@dataclass
class Finding:
    rule: str
    category: str
    role: str
    confidence: float
    title: str
    evidence: list[Evidence] = field(default_factory=list)
    explanation: str = ""
    next_steps: str = ""
    when: Any = None  # pandas Timestamp of the first evidence (for ranking), not serialised

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category
        assert self.role in ROLES, self.role
        self.confidence = round(max(0.0, min(1.0, self.confidence)), 2)

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("when")
        return d


@dataclass
class Verdict:
    outcome: str  # failed | succeeded | unknown
    root_cause: Finding | None
    nbd: str
    nbd_reason: str
    noise: list[Finding] = field(default_factory=list)
    category: str = "unknown"  # the headline category (see diagnose.headline_category)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "category": self.category,
            "root_cause": self.root_cause.as_json() if self.root_cause else None,
            "nbd": self.nbd,
            "nbd_reason": self.nbd_reason,
            "noise": [f.rule for f in self.noise],
        }
