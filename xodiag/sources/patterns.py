"""Compiled fast-path regexes, each derived from a grammar rule or terminal (see parse/grammar.py)."""

from __future__ import annotations

import functools
import re

from xodiag.parse.grammar import compiled, terminal_regex

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


@functools.cache
def syslog_prefix() -> re.Pattern[str]:
    return compiled("syslog", "syslog_prefix", "(?: )?")


@functools.cache
def xo_header() -> re.Pattern[str]:
    return compiled("xo_record", "xo_header", r"(?: |$)")


@functools.cache
def xo_header_notime() -> re.Pattern[str]:
    return compiled("xo_record", "xo_header_notime", r"(?: |$)")


@functools.cache
def xapi_header() -> re.Pattern[str]:
    return compiled("xensource", "xapi_header", "(?: )?")


@functools.cache
def backtrace_frame() -> re.Pattern[str]:
    return compiled("xensource", "backtrace_frame")


@functools.cache
def task_ref_at_end() -> re.Pattern[str]:
    return re.compile(r"\s*(?P<ref>" + terminal_regex("xensource", "TASK_REF") + r")\s*$")


@functools.cache
def error_head_line() -> re.Pattern[str]:
    """An error header at the start of a (pasted) line, optionally after `key: ` (`err: Error: ...`)."""
    head = terminal_regex("node_inspect", "ERROR_HEAD")
    return re.compile(r"(?:[A-Za-z_$][\w$]*: )?(?P<head>" + head + ")")


@functools.cache
def error_head_in_message() -> re.Pattern[str]:
    """Where an Error printed as data starts inside a message line (`Error in openNbdCBT Error: ...`)."""
    return re.compile(r"(?:^| )(?=" + terminal_regex("node_inspect", "ERROR_NAME") + ": )")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text) if "\x1b" in text else text
