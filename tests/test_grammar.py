"""The grammars are the one source of truth: derived fast-path regexes must agree with Lark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lark import Token, Tree

from xodiag.parse.grammar import GRAMMAR_DIR, parser, rule_regex

ROOT = Path(__file__).resolve().parents[1]


def _tokens(tree: Tree) -> dict[str, str]:
    out: dict[str, str] = {}
    for tok in tree.scan_values(lambda t: isinstance(t, Token)):
        out.setdefault(tok.type.lower(), str(tok))
    return out


SYSLOG = [
    ("Apr 14 02:22:11 xo xo-server[812]: x", {"short_stamp": "Apr 14 02:22:11", "host": "xo",
                                              "ident": "xo-server", "pid": "812"}),
    ("Apr  4 02:22:11.402113 xo xo-server[812]: x", {"short_stamp": "Apr  4 02:22:11.402113", "pid": "812"}),
    ("2026-04-14T02:22:11+02:00 xo xo-server[812]: x", {"iso_stamp": "2026-04-14T02:22:11+02:00"}),
    ("Apr  4 02:22:11 proxy1 xo-proxy: x", {"host": "proxy1", "ident": "xo-proxy", "pid": None}),
    ("Mar  3 02:00:12 xcp1 xapi: [debug||1 x|y|audit] z", {"ident": "xapi"}),
]


@pytest.mark.parametrize(("line", "expect"), SYSLOG)
def test_syslog_prefix_regex_agrees_with_lark(line: str, expect: dict[str, str | None]) -> None:
    m = re.compile(rule_regex("syslog", "syslog_prefix") + "(?: )?").match(line)
    assert m is not None
    for key, value in expect.items():
        assert m.group(key) == value
    # Lark (LALR) parses the same prefix into the same terminals.
    tree = parser("syslog").parse(line)
    toks = _tokens(tree)
    for key, value in expect.items():
        if value is not None:
            assert toks[key] == value
    assert toks.get("body", "") == line[m.end():]


XAPI = [
    "[debug||5120 HTTPS 10.0.0.50->:::80|VDI.get_nbd_info R:3f2a1b0c9d8e|audit] VDI.get_nbd_info: vdi  = 'x'",
    "[debug|xcp1|1818 UNIX /var/lib/xcp/xapi|VBD.plug R:9a8b7c6d5e4f|audit] VBD.plug: VBD = 'x'",
    "[debug|00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01|1818 UNIX /var/lib/xcp/xapi|VBD.plug "
    "R:9a8b7c6d5e4f|audit] VBD.plug",
    "[ info||1790 /var/lib/xcp/xapi|session.login_with_password D:2c4e6a8b0d1f|xapi_session] Session.create",
    "[error||5500 HTTPS 10.0.0.50->:::80|[XO] VDI Export R:1a2b3c4d5e6f|vhd_tool_wrapper] vhd-tool output",
    "[20260303T01:00:12.345Z|audit||7 INET :::80|VM.start R:0e1d2c3b4a59|audit] ok",
]


@pytest.mark.parametrize("body", XAPI)
def test_xapi_header_regex_agrees_with_lark(body: str) -> None:
    m = re.compile(rule_regex("xensource", "xapi_header") + "(?: )?").match(body)
    assert m is not None
    toks = _tokens(parser("xensource").parse(body))
    for key in ("xapi_level", "field2", "thread_id", "task", "brand", "xapi_time"):
        if m.group(key) is not None:
            assert toks[key] == m.group(key), key
    assert toks.get("message", "") == body[m.end():]


def test_xapi_header_field2_variants() -> None:
    rx = re.compile(rule_regex("xensource", "xapi_header"))
    assert rx.match(XAPI[0]).group("field2") is None  # type: ignore[union-attr]
    assert rx.match(XAPI[1]).group("field2") == "xcp1"  # type: ignore[union-attr]
    assert rx.match(XAPI[2]).group("field2").startswith("00-0af765")  # type: ignore[union-attr]
    assert rx.match(XAPI[4]).group("task") == "[XO] VDI Export R:1a2b3c4d5e6f"  # type: ignore[union-attr]


def test_backtrace_frame_regex() -> None:
    rx = re.compile(rule_regex("xensource", "backtrace_frame"))
    m = rx.match("2/6 xapi Called from file ocaml/xapi/rbac.ml, line 205, characters 6-33")
    assert m is not None
    assert (m.group("bt_index"), m.group("bt_file"), m.group("bt_line")) == ("2", "ocaml/xapi/rbac.ml", "205")
    assert parser("xensource").parse("1/6 xapi Raised at file ocaml/xapi/xapi_vdi.ml, line 1017")


def test_xo_header_regex() -> None:
    rx = re.compile(rule_regex("xo_record", "xo_header"))
    m = rx.match("2026-04-14T00:22:12.913Z xo:backups:worker ERROR unhandled error event {")
    assert m is not None
    assert m.group("namespace") == "xo:backups:worker" and m.group("level") == "ERROR"
    assert rx.match("2026-04-14T00:22:12.913Z xo:backups:worker NOTICE x") is None


def test_every_grammar_builds_as_lalr() -> None:
    for path in GRAMMAR_DIR.glob("*.lark"):
        lark = parser(path.stem)
        assert lark.options.parser == "lalr", path.name


def test_earley_is_never_used_on_log_input() -> None:
    """Earley is O(n^3): no code path may build an Earley parser."""
    offenders = []
    for path in (ROOT / "xodiag").rglob("*.py"):
        text = path.read_text()
        if re.search(r"parser\s*=\s*[\"']earley", text) or ("Lark(" in text and "parser=" not in text):
            offenders.append(str(path))
    assert offenders == []


def _parses(p: object) -> bool:
    tree = p.parse("Apr 14 02:22:11 xo xo-server[812]: x")  # type: ignore[attr-defined]
    return _tokens(tree).get("pid") == "812"


@pytest.mark.parametrize("damage", ["none", "garbage", "truncated", "other-grammar"])
def test_parser_cache_is_used_and_survives_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  damage: str) -> None:
    """Built parsers are kept in $XDG_CACHE_HOME/xodiag. A later run loads them; a damaged or foreign
    cache file is ignored, rebuilt and rewritten, never an error."""
    from lark import Lark

    from xodiag.parse import grammar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    build = grammar.parser.__wrapped__  # past the per-process memo
    assert _parses(build("syslog"))
    cached = tmp_path / "xodiag" / "lark-syslog-start.pickle"
    good = cached.read_bytes()
    assert len(good.split(b"\n", 1)[0]) == 64  # the digest of grammar, options, Lark and Python versions
    if damage == "garbage":
        cached.write_bytes(b"\x00not a cache\n" + bytes(range(256)))
    elif damage == "truncated":
        cached.write_bytes(good[: len(good) // 2])
    elif damage == "other-grammar":
        cached.write_bytes(b"0" * 64 + b"\n" + good.split(b"\n", 1)[1])
    built: list[int] = []
    real = Lark._build_parser
    monkeypatch.setattr(Lark, "_build_parser", lambda self: built.append(1) or real(self))
    assert _parses(build("syslog"))
    assert built == ([] if damage == "none" else [1])  # loaded from the cache, or rebuilt
    assert cached.read_bytes().split(b"\n", 1)[0] == good.split(b"\n", 1)[0]  # rewritten
    assert _parses(build("syslog"))
    assert len(built) == (0 if damage == "none" else 1)  # and the rewritten file is used next time


def test_parser_without_a_writable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xodiag.parse import grammar

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert grammar.cache_dir() is None
    assert _parses(grammar.parser.__wrapped__("syslog"))


def test_parser_cache_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file appears by rename once complete (parallel runs never read half a file); when the
    folder cannot take it, the run goes on with the parser it built and leaves no temporary file."""
    import os

    from xodiag.parse import grammar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    build = grammar.parser.__wrapped__
    assert _parses(build("syslog"))
    folder = tmp_path / "xodiag"
    assert sorted(p.name for p in folder.iterdir()) == ["lark-syslog-start.pickle"]

    renames: list[tuple[str, str]] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: renames.append((str(a), str(b))) or real_replace(a, b))
    (folder / "lark-syslog-start.pickle").unlink()
    assert _parses(build("syslog"))
    assert len(renames) == 1 and renames[0][1] == str(folder / "lark-syslog-start.pickle")
    assert renames[0][0].endswith(".tmp") and not os.path.exists(renames[0][0])

    def full_disk(a: str, b: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    (folder / "lark-syslog-start.pickle").unlink()
    assert _parses(build("syslog"))
    assert list(folder.iterdir()) == []  # neither a cache file nor a temporary one


@pytest.mark.parametrize("damage", ["none", "garbage", "other-grammar", "not-a-dict"])
def test_derived_regexes_are_cached_and_survive_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       damage: str) -> None:
    """Header and terminal regexes derived from the grammars are kept in $XDG_CACHE_HOME/xodiag: a later run
    needs no Lark build for them; a damaged or foreign file is derived again and rewritten."""
    import json

    from xodiag.parse import grammar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rule = grammar.rule_regex.__wrapped__("syslog", "syslog_prefix")  # past the per-process memo
    term = grammar.terminal_regex.__wrapped__("node_inspect", "ERROR_NAME")
    cached = tmp_path / "xodiag" / "regex-syslog.json"
    assert json.loads(cached.read_text())["regexes"] == {"rule syslog_prefix": rule}
    if damage == "garbage":
        cached.write_bytes(b"\x00{not json")
    elif damage == "other-grammar":
        cached.write_text(json.dumps({"digest": "0" * 64, "regexes": {"rule syslog_prefix": "WRONG"}}))
    elif damage == "not-a-dict":
        cached.write_text("[1, 2]")
    derived: list[str] = []
    real_parser, real_terms = grammar.parser, grammar._all_terminals
    monkeypatch.setattr(grammar, "parser", lambda *a: derived.append("rule") or real_parser(*a))
    monkeypatch.setattr(grammar, "_all_terminals", lambda *a: derived.append("terminal") or real_terms(*a))
    assert grammar.rule_regex.__wrapped__("syslog", "syslog_prefix") == rule
    assert grammar.terminal_regex.__wrapped__("node_inspect", "ERROR_NAME") == term
    assert derived == ([] if damage == "none" else ["rule"])
    assert json.loads(cached.read_text())["regexes"] == {"rule syslog_prefix": rule}  # rewritten whole
    assert grammar.rule_regex.__wrapped__("syslog", "syslog_prefix") == rule
    assert len(derived) == (0 if damage == "none" else 1)


def test_derived_regexes_without_a_writable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xodiag.parse import grammar

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert grammar.rule_regex.__wrapped__("syslog", "syslog_prefix") == grammar.rule_regex("syslog", "syslog_prefix")


def test_lark_version_is_read_without_importing_lark() -> None:
    import lark

    from xodiag.parse import grammar

    assert grammar._lark_version.__wrapped__() == lark.__version__
