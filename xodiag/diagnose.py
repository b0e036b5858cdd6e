"""Run the rules over the timeline, rank the findings and build the verdict.

Ranking: among root-cause candidates, the specific ones beat the generic ones (an uncaught exception,
then the plain "the task failed with X"); within a tier the earliest cause wins, because it explains the
later events. The candidates that lose become consequences; a consequence never outranks its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xodiag.findings import ROLE_RANK, Finding, Verdict
from xodiag.rules import RULES
from xodiag.rules._common import failed
from xodiag.timeline import Timeline

GENERIC_TIERS = {"XD160": 1, "XD170": 2}  # every other root-cause rule is tier 0 (specific)
# The verdict is incomplete (exit 3) when more than this share of the input lines is unparsed.
UNPARSED_LIMIT = 0.2


@dataclass
class Diagnosis:
    verdict: Verdict
    findings: list[Finding]
    timeline: Timeline
    inputs: list[Any] = field(default_factory=list)
    incomplete: str | None = None


def _key(f: Finding) -> tuple:
    import pandas as pd

    when = f.when if f.when is not None and not pd.isna(f.when) else pd.Timestamp.max.tz_localize("UTC")
    return (GENERIC_TIERS.get(f.rule, 0), when, -f.confidence)


def _nbd_state(tl: Timeline, findings: list[Finding]) -> tuple[str, str]:
    rules = {f.rule for f in findings}
    used_reasons = []
    if "XD101" in rules:
        used_reasons.append("the qcow2 export close at NBD init (XapiStreamNbd.mjs:66) shows NBD connected")
    if tl.has("nbd-used-info"):
        used_reasons.append("the job log says 'Transfer data using NBD'")
    if tl.has("read-retry"):
        used_reasons.append("XO read blocks over NBD (read retries)")
    if tl.has("nbd-serving"):
        used_reasons.append("xapi-nbd served XO's connection")
    if tl.has("nbd-export-task"):
        used_reasons.append("xapi created the task 'Exporting content of VDI ... through NBD'")
    if tl.has("nbd-incomplete"):
        used_reasons.append("XO connected with fewer NBD clients than asked ('incomplete connection')")
    if tl.has("nbd-fallback", "nbd-none"):
        fails = tl.of("nbd-connect-failed")
        if not fails.empty:
            why = "; ".join(sorted({str(m)[:120] for m in fails["error_message"].dropna()})) or "handshake failed"
            reason = f"NO_NBD_AVAILABLE after every candidate host failed its NBD handshake ({why})"
        else:
            reason = ("NO_NBD_AVAILABLE: VDI.get_nbd_info gave no usable address (no network with purpose nbd, "
                      "or the backup network filter removed them all)")
        if used_reasons:
            reason += "; other disks used NBD"
        return "fell-back", reason
    if used_reasons:
        return "used", "; ".join(used_reasons)
    if "XD112" in rules:
        return "unknown", ("NBD was attempted but its setup failed before any connection (XD112); XO does not "
                           "fall back on that error")
    df = tl.df
    jobs = df[(df["format"] == "job-json") & (df["kind"] == "task-start")]["raw"].fillna("")
    if jobs.str.contains(r'"mode":\s*"full"', regex=True).any():
        return "not-attempted", "a full backup job (XVA export): NBD is only used by delta backups and replication"
    if tl.has("nbd-connect-failed", "qcow2-close-noise", "read-retry"):
        return "unknown", "the logs show NBD activity but neither a connection nor a fallback"
    stream = {"XD140", "XD141", "XD142"} & {f.rule for f in findings if f.role == "root-cause"}
    if stream:
        return "not-attempted", ("the disk was read over the HTTP export stream and no NBD connect or fallback "
                                 "was logged: NBD was not enabled for this job (or an older XO fell back silently)")
    vm_tasks = tl.df[(tl.df["kind"] == "task-start") & tl.df["namespace"].eq("backup VM")]
    if not vm_tasks.empty and not tl.has("nbd-connect-failed", "qcow2-close-noise"):
        return "not-attempted", ("the job log has no 'Transfer data using NBD' and no fallback warning: NBD was "
                                 "not enabled for this job (or an XO older than July 2026 fell back silently)")
    return "unknown", "the logs show neither an NBD connection nor a fallback"


def headline_category(outcome: str, root: Finding | None, findings: list[Finding]) -> str:
    """One category for the whole run.

    - a root cause: its category;
    - a success: ``cleanup-noise`` when every alarming finding is cleanup noise, else ``unknown``;
    - an unknown outcome: what the run's fallbacks or contributing findings say (NO_NBD_AVAILABLE rather
      than the per-host handshake failures that led to it), else ``unknown``.
    """
    if root is not None:
        return root.category
    alarming = [f for f in findings if f.role != "info"]
    if outcome == "succeeded":
        # What looked alarming in a successful run: noise, or fallbacks XO got past (a handshake failure,
        # CBT, a VDI_IN_USE retry). A fallback to the stream export (XD110) is news, not noise.
        if any(f.rule == "XD110" for f in findings):
            return "unknown"
        if any(f.category != "cleanup-noise" and f.role not in ("fallback", "info") for f in alarming):
            return "unknown"
        return "cleanup-noise" if any(f.rule != "XD180" for f in findings) else "unknown"
    if outcome == "unknown":
        rules = {f.rule for f in findings}
        for f in findings:
            if f.role in ("contributing", "fallback") and f.category != "cleanup-noise" \
                    and not (f.rule == "XD111" and "XD110" in rules):
                return f.category
    return "unknown"


def diagnose(tl: Timeline, inputs: list[Any] | None = None) -> Diagnosis:
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule.match(tl))
    roots = sorted((f for f in findings if f.role == "root-cause"), key=_key)
    root = roots[0] if roots else None
    for other in roots[1:]:
        # A later candidate is explained by the earlier cause; an earlier one (of a lower tier) contributed.
        later = other.when is None or root.when is None or other.when >= root.when  # type: ignore[union-attr]
        other.role = "consequence" if later or other.rule in GENERIC_TIERS else "contributing"
    if root is not None:
        outcome = "failed"
    elif any(f.rule == "XD180" for f in findings):
        outcome = "succeeded"
    elif failed(tl):
        outcome = "failed"
    else:
        outcome = "unknown"
    nbd, nbd_reason = _nbd_state(tl, findings)
    import pandas as pd

    end = pd.Timestamp.max.tz_localize("UTC")
    findings.sort(key=lambda f: (f is not root, ROLE_RANK[f.role],
                                 f.when if f.when is not None and not pd.isna(f.when) else end))
    noise = [f for f in findings if f.role == "noise"]
    verdict = Verdict(outcome=outcome, root_cause=root, nbd=nbd, nbd_reason=nbd_reason, noise=noise,
                      category=headline_category(outcome, root, findings))
    diag = Diagnosis(verdict=verdict, findings=findings, timeline=tl, inputs=inputs or [])
    # Prose is expected in a paste: pasted fragments do not count towards the unparsed share.
    counted = [s for s in diag.inputs if getattr(s, "format", None) != "fragment"]
    lines = sum(getattr(s, "lines", 0) for s in counted)
    unparsed = sum(getattr(s, "unparsed", 0) for s in counted)
    if len(tl.df) == 0:
        diag.incomplete = "no events could be read from the inputs"
    elif lines and unparsed / lines > UNPARSED_LIMIT:
        diag.incomplete = (f"{unparsed} of {lines} input lines ({unparsed / lines:.0%}) could not be parsed "
                           f"(limit {UNPARSED_LIMIT:.0%})")
    return diag
