"""The analysis for a terminal (rich). Honours NO_COLOR and non-TTY output; log text is neutralised."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

from xodiag.diagnose import Diagnosis
from xodiag.render.sanitize import one_line

_ROLE_STYLE = {"root-cause": "bold red", "contributing": "yellow", "consequence": "magenta",
               "fallback": "cyan", "noise": "dim", "info": "green"}


def render(diag: Diagnosis, out: IO[str] | None = None, color: str = "auto", redactor: Any = None) -> None:
    from rich.console import Console
    from rich.text import Text

    out = out or sys.stdout
    no_color = color == "never" or (color == "auto" and (bool(os.environ.get("NO_COLOR")) or not out.isatty()))
    console = Console(file=out, no_color=no_color, force_terminal=color == "always" or None,
                      highlight=False, emoji=False, soft_wrap=True,
                      color_system=None if no_color else "auto")

    red = redactor.text if redactor is not None else (lambda x: x)

    def safe(text: str) -> Text:
        return Text(one_line(red(text)))  # Text never interprets markup; one_line escapes control characters

    v = diag.verdict
    head = {"failed": "[bold red]FAILED[/]", "succeeded": "[bold green]SUCCEEDED[/]",
            "unknown": "[bold yellow]UNKNOWN[/]"}[v.outcome]
    console.print(f"Outcome: {head}")
    if v.root_cause is not None:
        rc = v.root_cause
        console.print(Text("Root cause: ", style="bold") + safe(rc.title)
                      + Text(f"  [{rc.rule} {rc.category}, confidence {rc.confidence:.2f}]", style="dim"))
        for e in rc.evidence[:3]:
            where = f"{e.path}:{e.line}" + (f" {e.time}" if e.time else "")
            console.print(Text("  evidence: ", style="dim") + safe(where) + Text("  ") + safe(e.text[:220]))
    elif v.outcome == "failed":
        console.print("Root cause: not identified in these logs")
    if v.root_cause is None and v.noise:
        console.print(Text("The real error is not in these inputs. ", style="bold") + safe(" ".join(
            v.noise[0].next_steps.split())))
    console.print(Text("NBD: ", style="bold") + Text(v.nbd, style="bold") + Text(" - ") + safe(v.nbd_reason))
    if v.noise:
        console.print(Text("Noise (demoted): ", style="bold"))
        for f in v.noise:
            console.print(Text(f"  {f.rule} ", style="dim") + safe(f.title))
    if diag.incomplete:
        console.print(Text("Verdict incomplete: ", style="bold yellow") + safe(diag.incomplete))
    if diag.timeline.skew:
        skew = ", ".join(f"{h} {s:+.0f} s" for h, s in diag.timeline.skew.items())
        console.print(Text("Clock skew vs XO (applied): ") + safe(skew))
    console.print()
    console.print(Text("Findings", style="bold underline"))
    for f in diag.findings:
        console.print(Text(f"{f.rule} ", style="bold") + Text(f"{f.role:<12}", style=_ROLE_STYLE[f.role])
                      + Text(f"{f.category:<20} {f.confidence:.2f}  ") + safe(f.title))
        for e in f.evidence[:2]:
            console.print(Text("    ") + safe(f"{e.path.rsplit('/', 1)[-1]}:{e.line}  {e.text[:150]}"), style="dim")
    console.print()
    console.print(Text("Explain a rule: xodiag rules <ID>", style="dim"))
