"""Documentation that must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from xodiag.events import COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def test_event_columns_documented() -> None:
    doc = (ROOT / "docs" / "events.md").read_text().split("## Accounting")[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", doc, re.M)
    assert documented == list(COLUMNS)


def test_readme_opens_with_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    first, second = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in first and "\n" not in second
    assert "xodiag analyze" in first and "samples/april-2026" in first
    ci = (ROOT / ".ci" / "run").read_text()
    assert second in ci or second.replace("bash ", "") in ci


def test_rule_catalogue_doc_in_sync() -> None:
    """docs/rules.md is exactly what `xodiag rules --markdown` prints (regenerate it with that command)."""
    from xodiag.cli import rules_markdown

    assert (ROOT / "docs" / "rules.md").read_text() == rules_markdown()
