"""Every diagnosis rule against its own fixture log, the rule catalogue's metadata, and `xodiag rules`.

Each rule module names a fixture (``FIXTURE``, tests/fixtures/rules/XDnnn.log): a small log in one of the
formats xodiag reads, written to be faithful to what Xen Orchestra, xapi and xapi-nbd really print (see
../shared/domain/xo-export-path.md and log-formats.md). The real pipeline (reader -> timeline -> diagnose)
runs on it and the rule must fire with the expected role and category. The ``neg-*`` fixtures are cases
where a rule must NOT win.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from xodiag.diagnose import Diagnosis, diagnose
from xodiag.findings import CATEGORIES, ROLES, Finding
from xodiag.reader import event_table
from xodiag.rules import RULES
from xodiag.timeline import build

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "rules"

# Rule -> (role, category) it must report on its own fixture.
EXPECTED: dict[str, tuple[str, str]] = {
    "XD101": ("noise", "cleanup-noise"),
    "XD102": ("noise", "cleanup-noise"),
    "XD103": ("noise", "cleanup-noise"),
    "XD104": ("noise", "cleanup-noise"),
    "XD105": ("noise", "cleanup-noise"),
    "XD110": ("fallback", "nbd-unavailable"),
    "XD111": ("fallback", "nbd-connect-failed"),
    "XD112": ("root-cause", "nbd-connect-failed"),
    "XD113": ("fallback", "cleanup-noise"),
    "XD120": ("root-cause", "nbd-read-failed"),
    "XD121": ("root-cause", "storage-error"),
    "XD130": ("root-cause", "vdi-in-use"),
    "XD131": ("contributing", "vdi-in-use"),
    "XD140": ("root-cause", "export-timeout"),
    "XD141": ("root-cause", "export-aborted"),
    "XD142": ("root-cause", "storage-error"),
    "XD143": ("root-cause", "target-write-failed"),
    "XD150": ("root-cause", "xapi-unreachable"),
    "XD160": ("root-cause", "xo-internal-error"),
    "XD161": ("consequence", "cleanup-noise"),
    "XD170": ("root-cause", "unknown"),
    "XD171": ("root-cause", "target-write-failed"),
    "XD180": ("info", "cleanup-noise"),
}

RULE_IDS = [r.ID for r in RULES]


@functools.cache
def analyze(path: str) -> Diagnosis:
    """The real analysis of one log file, as `xodiag analyze` runs it (cached: fixtures are read-only)."""
    table, summaries = event_table([path])
    return diagnose(build(table, summaries), summaries)


def fixture(name: str) -> str:
    path = FIXTURES / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def found(diag: Diagnosis, rule_id: str) -> Finding:
    hits = [f for f in diag.findings if f.rule == rule_id]
    fired = ", ".join(f"{f.rule}:{f.role}" for f in diag.findings) or "none"
    assert len(hits) == 1, f"{rule_id} fired {len(hits)} times (findings: {fired})"
    return hits[0]


def root_id(diag: Diagnosis) -> str | None:
    root = diag.verdict.root_cause
    return root.rule if root is not None else None


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xodiag.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, encoding="utf-8")


# --- each rule on its own fixture ----------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_fires_on_its_fixture(rule: ModuleType) -> None:
    diag = analyze(str(REPO / rule.FIXTURE))
    f = found(diag, rule.ID)
    role, category = EXPECTED[rule.ID]
    assert (f.role, f.category) == (role, category)
    assert f.evidence, f"{rule.ID} gave no evidence line"
    assert all(e.path.endswith(Path(rule.FIXTURE).name) for e in f.evidence)
    if rule.ROLE == "root-cause":
        assert root_id(diag) == rule.ID, f"root cause is {root_id(diag)}, not {rule.ID}"
        assert diag.verdict.outcome == "failed"
    if rule.ROLE == "noise":
        assert root_id(diag) != rule.ID
        assert rule.ID in [n.rule for n in diag.verdict.noise]


def test_xd101_proves_nbd_was_used() -> None:
    diag = analyze(fixture("XD101.log"))
    assert diag.verdict.nbd == "used"
    assert "XapiStreamNbd.mjs:66" in diag.verdict.nbd_reason
    assert diag.verdict.root_cause is None
    assert diag.verdict.outcome == "succeeded"


def test_xd111_is_contributing_when_every_candidate_failed() -> None:
    # The same rule on the fixture where the handshake failure ends in NO_NBD_AVAILABLE (XD161's).
    diag = analyze(fixture("XD161.log"))
    assert found(diag, "XD111").role == "contributing"
    assert found(diag, "XD110").role == "fallback"
    assert diag.verdict.nbd == "fell-back"


def test_xd131_sees_the_stale_dom0_vbd() -> None:
    f = found(analyze(fixture("XD131.log")), "XD131")
    texts = " ".join(e.text for e in f.evidence)
    assert "Plugging VBD OpaqueRef:48806c1e-f69c-4de6-83e7-2e4be44dc09a" in texts
    assert "VDI_IN_USE" in texts


def test_xd180_on_a_successful_job_log() -> None:
    diag = analyze(fixture("XD180.log"))
    assert diag.verdict.outcome == "succeeded"
    assert diag.verdict.root_cause is None
    assert diag.verdict.nbd == "used"
    assert found(diag, "XD180").confidence >= 0.9


# --- negative cases: a rule that must not win ----------------------------------------------------


def test_xd120_not_root_when_read_retries_recovered() -> None:
    diag = analyze(fixture("neg-XD120-retries-recovered.log"))
    f = found(diag, "XD120")
    assert f.role == "info"
    assert root_id(diag) is None
    assert diag.verdict.outcome == "succeeded"
    assert diag.verdict.nbd == "used"


def test_xd142_not_root_when_the_broken_pipe_is_xo_closing_the_export() -> None:
    diag = analyze(fixture("neg-XD142-broken-pipe-after-nbd.log"))
    f = found(diag, "XD142")
    assert (f.role, f.category) == ("consequence", "cleanup-noise")
    assert root_id(diag) != "XD142"
    assert diag.verdict.outcome == "succeeded"
    assert found(diag, "XD101").role == "noise"
    assert diag.verdict.nbd == "used"


def test_xd130_is_info_when_a_vdi_in_use_retry_succeeded() -> None:
    diag = analyze(fixture("neg-XD130-retry-recovered.log"))
    f = found(diag, "XD130")
    assert (f.role, f.category) == ("info", "vdi-in-use")
    assert root_id(diag) != "XD130"
    assert diag.verdict.outcome == "succeeded"


def test_xd143_not_root_when_the_import_close_was_ignored() -> None:
    diag = analyze(fixture("neg-XD143-import-close-ignored.log"))
    assert root_id(diag) != "XD143"
    assert diag.verdict.outcome == "succeeded"


# --- bugs found with faithful variants of the fixtures -------------------------------------------


def test_xd113_fires_on_the_fallback_to_full_wording_before_july_2026() -> None:
    f = found(analyze(fixture("XD103.log")), "XD113")
    assert f.role == "fallback"
    assert "fallBack to a full" in " ".join(e.text for e in f.evidence)


def test_xd141_fires_on_a_truncated_qcow2_stream_export() -> None:
    diag = analyze(fixture("XD141-qcow2-stream.log"))
    assert root_id(diag) == "XD141"


def test_xd142_is_root_for_a_vhd_tool_eio_on_the_http_export() -> None:
    diag = analyze(fixture("XD142-vhd-tool-eio.log"))
    assert root_id(diag) == "XD142"
    assert all(f.rule != "XD121" for f in diag.findings)


def test_xd130_is_root_cause_on_a_xapi_vdi_in_use_backtrace() -> None:
    diag = analyze(fixture("XD131.log"))
    assert root_id(diag) == "XD130"


def test_xd102_evidence_is_not_reported_as_a_success() -> None:
    diag = analyze(fixture("XD102.log"))
    assert diag.verdict.outcome != "succeeded"
    assert all(f.rule != "XD180" for f in diag.findings)


def test_nbd_state_is_used_after_an_incomplete_multi_nbd_connection() -> None:
    assert analyze(fixture("XD111.log")).verdict.nbd == "used"


def test_nbd_state_is_not_not_attempted_when_nbd_setup_failed() -> None:
    assert analyze(fixture("XD112.log")).verdict.nbd != "not-attempted"


FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("*.log")) if FIXTURES.is_dir() else []


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_fixture_is_read_completely(name: str) -> None:
    diag = analyze(fixture(name))
    assert diag.incomplete is None, diag.incomplete
    assert all(not f.title.rstrip().endswith("{") for f in diag.findings)


# --- the catalogue --------------------------------------------------------------------------------


def test_expected_table_covers_every_rule() -> None:
    assert set(EXPECTED) == set(RULE_IDS)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_metadata(rule: ModuleType) -> None:
    assert isinstance(rule.ID, str) and re.fullmatch(r"XD\d{3}", rule.ID)
    for attr in ("TITLE", "DOC", "NEXT"):
        value = getattr(rule, attr)
        assert isinstance(value, str) and value.strip(), f"{rule.ID}.{attr} is empty"
    assert rule.CATEGORY in CATEGORIES
    assert rule.ROLE in ROLES
    assert EXPECTED[rule.ID][0] == rule.ROLE
    assert rule.FIXTURE == f"tests/fixtures/rules/{rule.ID}.log"
    assert (REPO / rule.FIXTURE).is_file(), f"{rule.ID}: no fixture at {rule.FIXTURE}"
    assert callable(rule.match)
    assert rule.__name__.rsplit(".", 1)[-1].startswith(rule.ID.lower() + "_")


def test_rule_ids_are_unique() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS))


# --- `xodiag rules` ------------------------------------------------------------------------------


def test_cli_rules_lists_every_rule() -> None:
    proc = cli("rules")
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    assert listed == RULE_IDS
    for rule in RULES:
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(rule.ID + " "))
        assert rule.TITLE in line


def test_cli_rules_explains_xd101() -> None:
    rule = next(r for r in RULES if r.ID == "XD101")
    proc = cli("rules", "XD101")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"XD101: {rule.TITLE}")
    squash = functools.partial(re.sub, r"\s+", "")
    assert squash(rule.DOC) in squash(proc.stdout)
    assert squash(rule.NEXT) in squash(proc.stdout)


def test_cli_rules_explains_a_lowercase_id() -> None:
    proc = cli("rules", "xd130")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("XD130: ")


def test_cli_rules_unknown_id_exits_2_with_one_line() -> None:
    proc = cli("rules", "XD999")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "XD999" in lines[0]
    assert "Traceback" not in proc.stderr
