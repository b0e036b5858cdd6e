"""The timeline plot attached to bug reports: one swimlane per source and host.

Lanes: xo-server (console, journal, pasted lines), the job log, and per host its xapi (xensource.log)
and xapi-nbd lines. Events are markers coloured by the role of the finding they are evidence for (grey
when none); failure windows are shaded; the root cause and the fallback are annotated. A lane with more
than ``BIN_ABOVE`` events is drawn as a binned histogram, so a 1M-event log still draws in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xodiag.diagnose import Diagnosis
from xodiag.render.redact import NoRedaction, Redactor

ROLE_COLORS = {"root-cause": "#d62728", "contributing": "#ff7f0e", "consequence": "#9467bd",
               "fallback": "#17becf", "noise": "#7f7f7f", "info": "#2ca02c", None: "#c7c7c7"}
BIN_ABOVE = 2000
WIDTH_PX = 1000


def lane_column(df: Any) -> Any:
    """The swimlane of every event (vectorised): xo-server, job log, '<host> xapi', '<host> xapi-nbd'."""
    host = df["host"].where(df["host"].notna(), "host").astype(str)
    lane = df["format"].map({"job-json": "job log"}).fillna("xo-server").astype(object)
    xapi = df["format"] == "xensource"
    nbd = df["format"] == "xapi-nbd"
    lane[xapi] = host[xapi] + " xapi"
    lane[nbd] = host[nbd] + " xapi-nbd"
    return lane


def lanes_of(diag: Diagnosis) -> list[str]:
    df = diag.timeline.df
    df = df[df["time_xo"].notna()]
    order = {"xo-server": 0, "job log": 1}
    return sorted(set(lane_column(df)), key=lambda n: (order.get(n, 2), n))


def draw(diag: Diagnosis, png: Path | None, svg: Path | None, redactor: Redactor | None = None) -> list[str]:
    """Write the plot; return the lane names (redacted) in drawing order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    red = redactor or NoRedaction()
    df = diag.timeline.df
    df = df[df["time_xo"].notna()].copy()
    lanes = lanes_of(diag)
    shown = [red.text(n) for n in lanes]
    role_of: dict[tuple[str, int], str] = {}
    for f in diag.findings:
        for e in f.evidence:
            role_of.setdefault((e.path, e.line), f.role)
    n = max(1, len(lanes))
    fig, ax = plt.subplots(figsize=(WIDTH_PX / 100, 1.6 + 0.55 * n), dpi=100)
    if df.empty:
        ax.text(0.5, 0.5, "no timed events", ha="center", va="center", transform=ax.transAxes)
    else:
        df["lane"] = lane_column(df)
        df["role"] = None
        if role_of:
            keys = pd.MultiIndex.from_arrays([df["source"], df["line"].astype("int64")])
            wanted = pd.MultiIndex.from_tuples(list(role_of))
            hit = keys.isin(wanted)
            df.loc[hit, "role"] = [role_of[(s, int(ln))] for s, ln in zip(df["source"][hit], df["line"][hit],
                                                                          strict=True)]
        t = df["time_xo"].dt.tz_convert("UTC").dt.tz_localize(None)
        df["t"] = t
        for i, lane in enumerate(lanes):
            sub = df[df["lane"] == lane]
            y = n - 1 - i
            ax.axhspan(y - 0.45, y + 0.45, color="#f4f4f4" if i % 2 else "#fbfbfb", zorder=0,
                       gid=f"lane-{i}")
            if len(sub) > BIN_ABOVE:
                counts, edges = np.histogram(sub["t"].astype("int64"), bins=400)
                mids = pd.to_datetime((edges[:-1] + edges[1:]) / 2)
                scale = 0.8 / max(1, counts.max())
                ax.bar(mids, counts * scale, width=(edges[1] - edges[0]) / 86400e9, bottom=y - 0.4,
                       color=ROLE_COLORS[None], rasterized=True, zorder=1)
                marked = sub[sub["role"].notna()]
            else:
                marked = sub
            for role, grp in marked.groupby(marked["role"].fillna("none")):
                color = ROLE_COLORS.get(None if role == "none" else role, ROLE_COLORS[None])
                size = 12 if role == "none" else 40
                ax.scatter(grp["t"], np.full(len(grp), y), s=size, color=color, zorder=3 if role != "none" else 2,
                           edgecolors="none", label=None if role == "none" else role)
        # Failure window: from the root cause to the last failure event.
        rc = diag.verdict.root_cause
        fails = df[df["what"].isin(["task-failure", "transfer-error", "worker-crash"])]
        if rc is not None and rc.when is not None:
            start = rc.when.tz_convert("UTC").tz_localize(None)
            end = fails["t"].max() if not fails.empty else start
            if end <= start:
                end = start + pd.Timedelta(seconds=1)
            ax.axvspan(start, end, color="#d62728", alpha=0.12, zorder=0, label="failure window")
            right = start > df["t"].min() + (df["t"].max() - df["t"].min()) * 0.6
            ax.annotate("root cause: " + red.text(rc.rule + " " + rc.category), xy=(start, n - 0.55),
                        xytext=(-5 if right else 5, -4), textcoords="offset points", fontsize=8, color="#d62728",
                        ha="right" if right else "left", va="top")
        aborts = df[df["what"].isin(["qcow2-close-noise", "read-retry"])]
        for tt in aborts["t"].head(200):
            ax.axvline(tt, color="#7f7f7f", alpha=0.15, lw=0.8, zorder=0)
        fb = df[df["what"].isin(["nbd-fallback", "nbd-none"])]
        if not fb.empty:
            ax.annotate("NBD fallback", xy=(fb["t"].iloc[0], n - 0.5), xytext=(5, -10),
                        textcoords="offset points", fontsize=8, color="#17becf")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=False))
        if uniq:
            ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(reversed(shown)) if shown else [""], fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("time (UTC, XO clock; host clocks corrected for skew)", fontsize=8)
    v = diag.verdict
    ax.set_title(red.text(f"xodiag: {v.outcome}; NBD {v.nbd}"), fontsize=10)
    fig.tight_layout()
    if png is not None:
        fig.savefig(png, dpi=100)
    if svg is not None:
        fig.savefig(svg)
    plt.close(fig)
    return shown
