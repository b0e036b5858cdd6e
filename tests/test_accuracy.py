"""Top-1 root-cause category accuracy on the labelled scenarios (tests/scenarios/*/label.json).

Two naive baselines run on the same set: the category of the first ERROR line and of the last ERROR
line (categorised with the same error-text rules xodiag uses). xodiag must reach 90% and beat both by
30 points; a successful run must never be reported as failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from xodiag.diagnose import diagnose
from xodiag.reader import event_table
from xodiag.rules._common import categorize, error_text
from xodiag.timeline import build

HERE = Path(__file__).resolve().parent
# tests/scenarios: the labelled set the rules were developed against; tests/holdout: written later by
# someone who did not read the rules (its misses before any change are reported in the issue notes).
CASES = sorted(p.parent for d in ("scenarios", "holdout") for p in (HERE / d).glob("*/label.json"))


def predicted(diag: Any) -> str:
    return diag.verdict.category


def baseline(tl: Any, which: str) -> str:
    errors = tl.df[tl.df["level"] == "ERROR"]
    if errors.empty:
        return "unknown"
    row = next((errors if which == "first" else errors.iloc[::-1]).itertuples(index=False))
    return categorize(error_text(row))


@pytest.fixture(scope="module")
def results() -> list[dict[str, Any]]:
    out = []
    for folder in CASES:
        label = json.loads((folder / "label.json").read_text())
        files = sorted(str(p) for p in folder.iterdir() if p.name not in ("label.json", "README.md"))
        table, summaries = event_table(files)
        tl = build(table, summaries)
        diag = diagnose(tl, summaries)
        out.append({"name": f"{folder.parent.name}/{folder.name}", "label": label, "pred": predicted(diag),
                    "outcome": diag.verdict.outcome, "nbd": diag.verdict.nbd,
                    "first": baseline(tl, "first"), "last": baseline(tl, "last")})
    return out


def test_enough_scenarios() -> None:
    assert len(CASES) >= 25


def test_root_cause_accuracy_beats_baselines(results: list[dict[str, Any]]) -> None:
    n = len(results)
    ours = sum(r["pred"] == r["label"]["category"] for r in results) / n
    first = sum(r["first"] == r["label"]["category"] for r in results) / n
    last = sum(r["last"] == r["label"]["category"] for r in results) / n
    print(f"\ntop-1 root-cause category accuracy on {n} scenarios: xodiag {ours:.0%}, "
          f"first ERROR line {first:.0%}, last ERROR line {last:.0%}", file=sys.stderr)
    for part in ("scenarios", "holdout"):
        sub = [r for r in results if r["name"].startswith(part + "/")]
        if sub:
            acc = sum(r["pred"] == r["label"]["category"] for r in sub) / len(sub)
            print(f"  {part}: {acc:.0%} of {len(sub)}", file=sys.stderr)
    for r in results:
        if r["pred"] != r["label"]["category"]:
            print(f"  miss {r['name']}: predicted {r['pred']}, labelled {r['label']['category']}", file=sys.stderr)
    assert ours >= 0.90
    assert ours - first >= 0.30 and ours - last >= 0.30


def test_success_is_never_reported_as_failed(results: list[dict[str, Any]]) -> None:
    bad = [r["name"] for r in results if r["label"]["outcome"] == "succeeded" and r["outcome"] == "failed"]
    assert bad == []


def test_outcome_and_nbd_state(results: list[dict[str, Any]]) -> None:
    outcome = sum(r["outcome"] == r["label"]["outcome"] for r in results) / len(results)
    nbd = sum(r["nbd"] == r["label"]["nbd"] for r in results) / len(results)
    print(f"\noutcome accuracy {outcome:.0%}, NBD state accuracy {nbd:.0%}", file=sys.stderr)
    assert outcome >= 0.85
    assert nbd >= 0.75
