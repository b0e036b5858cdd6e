"""The analysis as Markdown, ready to paste into a GitHub issue."""

from __future__ import annotations

from xodiag.diagnose import Diagnosis
from xodiag.findings import Finding
from xodiag.render.sanitize import one_line


def _code(text: str) -> str:
    text = one_line(text).replace("`", "'")
    return f"`{text}`"


def _evidence(f: Finding, limit: int = 3) -> list[str]:
    out = []
    for e in f.evidence[:limit]:
        where = f"{e.path.rsplit('/', 1)[-1]}:{e.line}"
        when = f" {e.time}" if e.time else ""
        out.append(f"  - {where}{when}: {_code(e.text[:240])}")
    return out


def render(diag: Diagnosis) -> str:
    v = diag.verdict
    lines = ["## xodiag verdict", ""]
    lines.append(f"- **Outcome:** {v.outcome}")
    if v.root_cause is not None:
        rc = v.root_cause
        lines.append(f"- **Root cause:** {one_line(rc.title)} ({rc.rule}, {rc.category}, "
                     f"confidence {rc.confidence:.2f})")
        lines.extend(_evidence(rc))
    elif v.outcome == "failed":
        lines.append("- **Root cause:** not identified in these logs")
    if v.root_cause is None and v.noise:
        collect = one_line(" ".join(v.noise[0].next_steps.split()))
        lines.append("- **The real error is not in these inputs.** " + collect)
    lines.append(f"- **NBD:** {v.nbd}: {one_line(v.nbd_reason)}")
    if v.noise:
        lines.append("- **Noise (demoted):** " + "; ".join(f"{f.rule} {one_line(f.title)}" for f in v.noise))
    if diag.incomplete:
        lines.append(f"- **Incomplete:** {diag.incomplete}")
    if diag.timeline.skew:
        lines.append("- **Clock skew vs XO:** " + ", ".join(f"{h} {s:+.0f} s" for h, s in diag.timeline.skew.items()))
    lines += ["", "### Findings", "", "| rule | role | category | confidence | finding |", "|---|---|---|---|---|"]
    for f in diag.findings:
        title = one_line(f.title).replace("|", "/")
        lines.append(f"| {f.rule} | {f.role} | {f.category} | {f.confidence:.2f} | {title} |")
    lines.append("")
    for f in diag.findings:
        lines.append(f"<details><summary>{f.rule}: {one_line(f.title)}</summary>")
        lines.append("")
        lines.extend(_evidence(f, 5))
        lines.append("")
        lines.append(one_line(f.explanation).replace("\\n", " "))
        lines.append("")
        lines.append("**Next:** " + one_line(f.next_steps).replace("\\n", " "))
        lines.append("</details>")
        lines.append("")
    lines.append("### Inputs")
    lines.append("")
    for s in diag.inputs:
        lines.append(f"- {_code(s.path)}: {s.format}, {s.lines} lines, {s.unparsed} unparsed")
    return "\n".join(lines) + "\n"
