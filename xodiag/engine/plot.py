"""A plot of one engine run: the history's operations per process over time, fault windows shaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"ok": "#2ca02c", "fail": "#d62728", "invoke": "#1f77b4", "info": "#7f7f7f"}


def draw_run(entries: list[dict[str, Any]], title: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    processes = sorted({e["process"] for e in entries}, key=lambda p: (p != "xo", p))
    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.5 * max(1, len(processes))), dpi=100)
    end = max((e["t"] for e in entries), default=1.0) or 1.0
    for e in entries:
        if e["process"] == "nemesis":
            ax.axvspan(e["t"], end, color="#d62728", alpha=0.08, zorder=0)
    for y, proc in enumerate(reversed(processes)):
        pts = [e for e in entries if e["process"] == proc]
        for kind, color in COLORS.items():
            xs = [e["t"] for e in pts if e["type"] == kind]
            if xs:
                ax.scatter(xs, [y] * len(xs), s=18, color=color, label=kind, zorder=2)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=False))
    if uniq:
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_yticks(range(len(processes)))
    ax.set_yticklabels(list(reversed(processes)), fontsize=8)
    ax.set_xlabel("seconds since the run started (scaled time); shaded: after a fault was injected", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
