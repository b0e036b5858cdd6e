"""util.inspect blocks and stack frames -> error facts."""

from __future__ import annotations

import pytest

from xodiag.parse.frames import parse_frame
from xodiag.parse.inspect import InspectError, parse_block

ABORT = """{
  error: RequestAbortedError [AbortError]: Request aborted
      at BodyReadable.destroy (/opt/xo/node_modules/undici/lib/api/readable.js:51:13)
      at QcowStream.close (/opt/xo/node_modules/@xen-orchestra/qcow2/dist/disk/QcowStream.mjs:40:22)
      at XapiStreamNbdSource.init (/opt/xo/@xen-orchestra/xapi/disks/XapiStreamNbd.mjs:66:17)
      at async #openNbdStream (/opt/xo/@xen-orchestra/xapi/disks/Xapi.mjs:108:7) {
    code: 'UND_ERR_ABORTED',
    [Symbol(undici.error.UND_ERR)]: true,
    [Symbol(undici.error.UND_ERR_ABORTED)]: true
  }
}"""


def test_request_aborted_block() -> None:
    facts = parse_block(ABORT)
    assert (facts.name, facts.code, facts.message) == ("RequestAbortedError", "UND_ERR_ABORTED", "Request aborted")
    assert facts.frames is not None
    assert [f["function"] for f in facts.frames] == [
        "BodyReadable.destroy", "QcowStream.close", "XapiStreamNbdSource.init", "#openNbdStream"]
    assert facts.frames[2]["file"].endswith("XapiStreamNbd.mjs") and facts.frames[2]["line"] == 66
    assert facts.frames[2]["col"] == 17
    assert facts.frames[3]["is_async"] is True and facts.frames[0]["is_async"] is False


def test_same_shape_different_numbers_reads_its_own_numbers() -> None:
    """Blocks share one cached parse when only digits differ; values must come from each block."""
    other = ABORT.replace("XapiStreamNbd.mjs:66:17", "XapiStreamNbd.mjs:91:23")
    assert parse_block(ABORT).frames[2]["line"] == 66  # type: ignore[index]
    assert parse_block(other).frames[2]["line"] == 91  # type: ignore[index]
    assert parse_block(other).frames[2]["col"] == 23  # type: ignore[index]


def test_xapi_error_object_and_nested_values() -> None:
    block = """{
  attemptNumber: 1,
  error: XapiError {
    code: 'VDI_IN_USE',
    params: [ 'OpaqueRef:5c0d1234-aaaa-bbbb-cccc-0123456789ab', 'destroy' ],
    call: { method: 'VDI.destroy', params: [Array] },
    task: undefined
  },
  pool: <ref *1> { uuid: '4f3e2d1c-0b9a-8877-6655-443322110000', self: [Circular *1], x: [Object] },
  list: [ 1, 2, ... 98 more items ],
  s: 'abc' +
    'def'
}"""
    facts = parse_block(block)
    assert (facts.name, facts.code) == ("XapiError", "VDI_IN_USE")


def test_cause_and_aggregate_errors() -> None:
    block = """{
  err: AggregateError [ERR_X]: all targets have failed, step: writer.run()
      at Foo.bar (/a.mjs:1:2)
      ... 2 lines matching cause stack trace ... {
    [errors]: [
      Error: connect ECONNREFUSED 10.0.0.1:10809
          at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
        code: 'ECONNREFUSED'
      },
      [Error: boom]
    ],
    [cause]: Error: inner
        at X (/b.mjs:3:4)
  }
}"""
    facts = parse_block(block)
    assert facts.name == "AggregateError"
    assert facts.message == "all targets have failed, step: writer.run()"
    assert facts.frames is not None and facts.frames[0]["function"] == "Foo.bar"


def test_error_as_data_on_message_line() -> None:
    facts = parse_block("Error: CBT is disabled\n    at XapiVhdCbt.init (/opt/xo/XapiVhdCbt.mjs:71:13)")
    assert (facts.name, facts.message) == ("Error", "CBT is disabled")
    assert facts.frames is not None and facts.frames[0]["line"] == 71


def test_plain_object_has_no_error() -> None:
    facts = parse_block("{ nDuplicates: 3 }")
    assert (facts.name, facts.code, facts.frames) == (None, None, None)


def test_grammar_error_raises_inspect_error() -> None:
    with pytest.raises(InspectError):
        parse_block("{\n  a: 'unterminated\n}")


@pytest.mark.parametrize(
    ("text", "function", "file", "line", "col", "is_async"),
    [
        ("at new Promise (<anonymous>)", "new Promise", "<anonymous>", None, None, False),
        ("at async Promise.all (index 0)", "Promise.all", "index 0", None, None, True),
        ("at /opt/xo/x.mjs:12:3", None, "/opt/xo/x.mjs", 12, 3, False),
        ("at …/Xapi.mjs:108:7", None, "…/Xapi.mjs", 108, 7, False),
        ("at Foo.bar [as baz] (node:internal/process/task_queues:95:5)", "Foo.bar [as baz]",
         "node:internal/process/task_queues", 95, 5, False),
        ("at file:///opt/x.mjs:1:2", None, "file:///opt/x.mjs", 1, 2, False),
    ],
)
def test_frames(text: str, function: str | None, file: str, line: int | None, col: int | None,
                is_async: bool) -> None:
    assert parse_frame(text) == {"function": function, "file": file, "line": line, "col": col,
                                 "is_async": is_async}


def test_not_a_frame() -> None:
    assert parse_frame("hello world") is None


def test_error_with_bracketed_code_and_class_prefixed_arrays() -> None:
    # Node prints "AggregateError [CODE]: " with a trailing space when the message is empty.
    block = """{
  error: <ref *1> AggregateError [ECONNREFUSED]:\x20
      at internalConnectMultiple (node:net:1139:18) {
    code: 'ECONNREFUSED',
    connection: { lastError: [Circular *1], options: [Object] },
    [errors]: [ [Error], [Error] ]
  },
  arguments: [Arguments] [ 'OpaqueRef:0fd630f1-f29d-4da9-953f-48f1a09f76b5' ],
  proto: [Object: null prototype] { a: 1 }
}"""
    facts = parse_block(block)
    assert (facts.name, facts.code) == ("AggregateError", "ECONNREFUSED")
    assert facts.frames is not None and facts.frames[0]["function"] == "internalConnectMultiple"


def test_bracketed_error_with_properties() -> None:
    block = "{\n  err: [Error: ENOSPC: no space left on device, write] {\n    errno: -28,\n    code: 'ENOSPC',\n" \
            "    syscall: 'write'\n  }\n}"
    facts = parse_block(block)
    assert (facts.name, facts.code) == ("Error", "ENOSPC")
    assert facts.message == "ENOSPC: no space left on device, write"
