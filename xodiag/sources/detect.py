"""Guess an input's format from its first lines."""

from __future__ import annotations

import json
from collections import Counter

from xodiag.sources import patterns as P
from xodiag.sources.lines import XAPI_IDENTS

FORMATS = ("xo-console", "xo-journal", "journal-json", "fragment", "job-json", "xensource", "xapi-nbd")


def detect(head: str) -> str:
    """One of FORMATS, or ``unknown`` (no line of any known shape)."""
    stripped = head.lstrip()
    if stripped.startswith("{"):
        first_line = stripped.split("\n", 1)[0].strip()
        if first_line.startswith("{") and first_line.endswith("}") and (
            '"__REALTIME_TIMESTAMP"' in first_line or '"MESSAGE"' in first_line
        ):
            try:
                json.loads(first_line)
                return "journal-json"
            except json.JSONDecodeError:
                pass
        sample = stripped[:65536]
        if '"jobId"' in sample or ('"tasks"' in sample and '"status"' in sample and '"start"' in sample):
            # A whole job log; a paste cut down to a branch with "..." is still read by the same reader.
            return "job-json"
    votes: Counter[str] = Counter()
    syslog, xo, xapi = P.syslog_prefix(), P.xo_header(), P.xapi_header()
    seen = 0
    for raw in head.split("\n")[:400]:
        line = P.strip_ansi(raw).rstrip("\r")
        if not line.strip():
            continue
        seen += 1
        m = syslog.match(line)
        if m is not None:
            ident = m.group("ident")
            body = line[m.end() :]
            if ident == "xapi-nbd":
                votes["xapi-nbd"] += 1
            elif ident in XAPI_IDENTS or (body.startswith("[") and xapi.match(body)):
                votes["xensource"] += 1
            else:
                votes["xo-journal"] += 1
            continue
        if xo.match(line):
            votes["xo-console"] += 1
        elif line.startswith("[") and xapi.match(line):
            votes["xensource"] += 1
        elif line[:1] in " \t}]":
            continue  # continuation lines say nothing on their own
        else:
            votes["fragment"] += 1
    if not votes:
        return "unknown"
    fmt = votes.most_common(1)[0][0]
    if fmt == "fragment" and len(votes) > 1:
        # A paste that holds some well-formed lines is still a paste.
        return "fragment"
    if fmt != "fragment" and votes["fragment"] > votes[fmt]:
        return "fragment"
    return fmt
