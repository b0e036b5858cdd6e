"""Load the grammars in ``grammars/`` and derive fast-path regexes from their rules.

The grammar files are the one source of truth for every format. Line headers are matched on the
hot path with a regex built from a grammar rule (``rule_regex``): each named terminal of the rule
becomes a named group, literals are escaped, and optional parts stay optional. Lark itself (LALR
only) parses structured blocks, each distinct block once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

GRAMMAR_DIR = Path(__file__).resolve().parents[2] / "grammars"


def grammar_path(name: str) -> Path:
    path = GRAMMAR_DIR / f"{name}.lark"
    if not path.is_file():
        raise FileNotFoundError(f"grammar {name}.lark not found in {GRAMMAR_DIR}")
    return path


def cache_dir() -> Path | None:
    """Where built parsers are kept between runs: ``$XDG_CACHE_HOME/xodiag`` (``~/.cache/xodiag``), or
    None when that cannot be written (then every run builds them, which costs ~60 ms)."""
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "xodiag"
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None


_OPTIONS = {"parser": "lalr", "lexer": "contextual", "propagate_positions": False, "maybe_placeholders": False}


@functools.cache
def parser(name: str, start: str = "start") -> Lark:
    """The LALR parser of ``grammars/<name>.lark`` (built once per process).

    Built parsers are kept in ``cache_dir()``, one file per grammar and start rule. Its first line is a
    digest of the grammar text, the options and the Lark and Python versions: a file whose digest does
    not match (an edited grammar, another Lark) or that cannot be read is rebuilt. Files are written to a
    temporary name and renamed, so runs in parallel never read one half written.
    """
    from lark import Lark

    text = grammar_path(name).read_text(encoding="utf-8")
    options = dict(_OPTIONS, start=start)
    folder = cache_dir()
    if folder is None:
        return Lark(text, **options)
    digest = _digest(text, options)
    path = folder / f"lark-{name}-{start}.pickle"
    cached = _load_cached(path, digest)
    if cached is not None:
        return cached
    built = Lark(text, **options)
    _save_cached(built, path, digest)
    return built


def _digest(text: str, options: dict[str, object]) -> bytes:
    import hashlib
    import sys

    key = "\n".join([text, repr(sorted(options.items())), _lark_version(), sys.version])
    return hashlib.sha256(key.encode("utf-8")).hexdigest().encode("ascii")


@functools.cache
def _lark_version() -> str:
    """Lark's version, read from its ``__init__.py`` when it can be: importing Lark costs ~40 ms, which a
    run whose regexes and parsers all come from the cache need not pay."""
    import importlib.util

    spec = importlib.util.find_spec("lark")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            source = Path(spec.origin).read_text("utf-8")
            found = re.search(r'^__version__(?::\s*str)?\s*=\s*["\']([^"\']+)["\']', source, re.MULTILINE)
            if found:
                return found.group(1)
    import lark

    return lark.__version__


def _load_cached(path: Path, digest: bytes) -> Lark | None:
    from lark import Lark

    try:
        with path.open("rb") as f:
            if f.readline().rstrip(b"\n") != digest:
                return None
            return Lark.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # a damaged cache file, whatever the damage: rebuild it
        return None


def _save_cached(built: Lark, path: Path, digest: bytes) -> None:
    import tempfile

    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=path.name + ".", suffix=".tmp",
                                         delete=False) as tmp:
            tmp_name = tmp.name
            tmp.write(digest + b"\n")
            built.save(tmp)
        os.replace(tmp_name, path)
    except OSError:  # a full or read-only disk: no cache this time
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _terminal_regex(lark: Lark, name: str) -> str:
    return lark.get_terminal(name).pattern.to_regexp()


def _expansion_regex(lark: Lark, expansion: list, used: set[str], depth: int) -> str:
    parts = []
    for sym in expansion:
        if sym.is_term:
            pattern = _terminal_regex(lark, sym.name)
            if sym.filter_out:
                parts.append(f"(?:{pattern})")
            else:
                group = sym.name.lower()
                if group in used:
                    parts.append(f"(?:{pattern})")
                else:
                    used.add(group)
                    parts.append(f"(?P<{group}>{pattern})")
        else:
            parts.append(_rule_regex(lark, sym.name, used, depth + 1))
    return "".join(parts)


def _is_subsequence(short: list, long: list) -> bool:
    it = iter(long)
    return all(any(s == x for x in it) for s in short)


def _rule_regex(lark: Lark, rule: str, used: set[str], depth: int = 0) -> str:
    if depth > 20:
        raise ValueError(f"rule {rule!r} is recursive; rule_regex handles flat header rules only")
    expansions = [r.expansion for r in lark.rules if r.origin.name == rule]
    if not expansions:
        raise KeyError(f"no rule {rule!r}")
    longest = max(expansions, key=len)
    if len(expansions) > 1 and all(_is_subsequence(e, longest) for e in expansions):
        # Expansions that Lark generated from "x?" / "(a b)?": one sequence with optional members.
        presence = []
        for exp in expansions:
            present = [False] * len(longest)
            j = 0
            for s in exp:
                while longest[j] != s:
                    j += 1
                present[j] = True
                j += 1
            presence.append(present)
        always = [all(p[i] for p in presence) for i in range(len(longest))]
        out = []
        i = 0
        while i < len(longest):
            if always[i]:
                out.append(_expansion_regex(lark, [longest[i]], used, depth))
                i += 1
                continue
            # Consecutive optional symbols that always come together form one optional group.
            together = [p[i] for p in presence]
            j = i
            while j < len(longest) and not always[j] and [p[j] for p in presence] == together:
                j += 1
            out.append(f"(?:{_expansion_regex(lark, longest[i:j], used, depth)})?")
            i = j
        return "".join(out)
    alternatives = [_expansion_regex(lark, e, used, depth) for e in expansions]
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


@functools.cache
def rule_regex(grammar: str, rule: str) -> str:
    """A regex (``re`` syntax) equivalent to ``rule`` of ``grammars/<grammar>.lark``.

    Named terminals become named groups (lower-case terminal names). Only flat, non-recursive
    rules are supported: record headers and similar line shapes.
    """
    return _derived(grammar, "rule " + rule, lambda: _rule_regex(parser(grammar), rule, set()))


@functools.cache
def _all_terminals(grammar: str) -> Lark:
    """A lexer-only build of the grammar: it keeps terminals that no rule uses."""
    from lark import Lark

    return Lark(grammar_path(grammar).read_text(encoding="utf-8"), parser=None, lexer="basic")


@functools.cache
def terminal_regex(grammar: str, name: str) -> str:
    """The regex of one terminal of ``grammars/<grammar>.lark``."""
    return _derived(grammar, "terminal " + name, lambda: _terminal_regex(_all_terminals(grammar), name))


# Derived regexes are kept beside the parsers, in one JSON file per grammar: {"digest": ..., "regexes":
# {"rule NAME" or "terminal NAME": regex}}. A run that finds them needs no Lark build (a lexer-only build
# for a terminal costs ~70 ms); a file whose digest is not the grammar's is ignored and rewritten.
def _derived(grammar: str, key: str, derive: Callable[[], str]) -> str:
    text = grammar_path(grammar).read_text(encoding="utf-8")
    digest = _digest(text, {"derived": "regexes"}).decode("ascii")
    folder = cache_dir()
    path = None if folder is None else folder / f"regex-{grammar}.json"
    known = _read_derived(path, digest) if path is not None else {}
    regex = known.get(key)
    if isinstance(regex, str):
        return regex
    regex = derive()
    if path is not None:
        _write_derived(path, {"digest": digest, "regexes": {**known, key: regex}})
    return regex


def _read_derived(path: Path, digest: str) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or damaged: derive again
        return {}
    if not isinstance(data, dict) or data.get("digest") != digest or not isinstance(data.get("regexes"), dict):
        return {}
    return data["regexes"]


def _write_derived(path: Path, data: dict[str, object]) -> None:
    import tempfile

    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=path.name + ".",
                                         suffix=".tmp", delete=False) as tmp:
            tmp_name = tmp.name
            json.dump(data, tmp)
        os.replace(tmp_name, path)
    except OSError:  # a full or read-only disk: derived again next run
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def compiled(grammar: str, rule: str, suffix: str = "", flags: int = 0) -> re.Pattern[str]:
    return re.compile(rule_regex(grammar, rule) + suffix, flags)
