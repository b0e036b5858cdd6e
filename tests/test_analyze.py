"""xodiag analyze through the real CLI: verdict, formats, colours, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APRIL = ROOT / "samples" / "april-2026-nbd-stream-init"

# The widely shared April 2026 trace, pasted alone (no journal prefix, no job log).
TRACE_ONLY = """\
xo:backups:worker ERROR unhandled error event {
  error: RequestAbortedError [AbortError]: Request aborted
      at BodyReadable.destroy (/opt/xo/node_modules/undici/lib/api/readable.js:51:13)
      at QcowStream.close (/opt/xo/node_modules/@xen-orchestra/qcow2/dist/disk/QcowStream.mjs:40:22)
      at XapiStreamNbdSource.init (/opt/xo/@xen-orchestra/xapi/disks/XapiStreamNbd.mjs:66:17)
      at async #openNbdStream (/opt/xo/@xen-orchestra/xapi/disks/Xapi.mjs:108:7) {
    code: 'UND_ERR_ABORTED'
  }
}
"""


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "xodiag.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, input=stdin, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_april_sample_verdict_names_the_real_failure_first() -> None:
    code, out, err = cli("analyze", str(APRIL))
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == "Outcome: FAILED"
    assert lines[1].startswith("Root cause: Storage read error on the host serving NBD")
    assert "XD121 storage-error" in lines[1]
    assert any(ln.startswith("NBD: used") for ln in lines[:8])
    noise = out.index("Noise (demoted)")
    assert "XD101" in out[noise:noise + 300]
    assert "\x1b" not in out  # not a TTY: no colour


def test_april_journal_alone_blames_nbd_reads_not_the_abort() -> None:
    code, out, _ = cli("analyze", str(APRIL / "xo-server.journal"), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert set(data) >= {"inputs", "verdict", "findings"}
    rc = data["verdict"]["root_cause"]
    assert rc["rule"] == "XD120" and rc["category"] == "nbd-read-failed" and rc["role"] == "root-cause"
    assert data["verdict"]["nbd"] == "used"
    assert "XD101" in data["verdict"]["noise"]
    assert rc["evidence"][0]["line"] == 26 and rc["evidence"][0]["time"] == "2026-04-14T00:31:43.604Z"
    assert data["inputs"] == [{"path": str(APRIL / "xo-server.journal"), "format": "xo-journal", "lines": 115,
                               "unparsed": 0}]


def test_trace_alone_is_noise_and_says_what_to_collect() -> None:
    code, out, _ = cli("analyze", "-", stdin=TRACE_ONLY)
    assert code == 0  # no failure identified
    assert out.startswith("Outcome: UNKNOWN")
    assert "The real error is not in these inputs" in out and "job log JSON" in out
    code, md, _ = cli("analyze", "-", "--format", "markdown", stdin=TRACE_ONLY)
    assert md.startswith("## xodiag verdict") and "**NBD:** used" in md


def test_success_exits_zero() -> None:
    code, out, _ = cli("analyze", str(ROOT / "samples" / "success-nbd"))
    assert code == 0
    assert out.startswith("Outcome: SUCCEEDED")


def test_colour_rules(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("2026-05-02T01:00:00.000Z xo:backups:worker ERROR uncaught exception \x1b]0;pwned\x07\x1b[31m\n")
    _code, out, _ = cli("analyze", str(log), "--color", "always", env={"NO_COLOR": ""})
    assert "\x1b[" in out  # forced colour
    assert "\x1b]0;pwned" not in out and "\x07" not in out  # log content never drives the terminal
    _code, out, _ = cli("analyze", str(log), "--color", "auto", env={"NO_COLOR": "1"})
    assert "\x1b" not in out


def test_exit_codes(tmp_path: Path) -> None:
    assert cli("analyze", str(tmp_path / "missing.log"))[0] == 2
    assert cli("analyze", str(APRIL), "--exit-zero")[0] == 0
    assert cli("analyze", str(APRIL), "--format", "yaml")[0] == 2
    prose = tmp_path / "notes.txt"
    prose.write_text("hello\nthis is not a log\nat all\n" * 10)
    code, _, _ = cli("analyze", str(prose))
    assert code == 3  # nothing parsed: the verdict is incomplete


def test_terminal_hides_secrets_markdown_also_identities(tmp_path: Path) -> None:
    paste = tmp_path / "paste.txt"
    paste.write_text("Error: connect ECONNREFUSED 10.20.30.40:443 while opening "
                     "/4a8e1b52-8c0f-4f0e-9d6b-1f2e3d4c5b6a?session_id=OpaqueRef:0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3\n")
    _, text, _ = cli("analyze", str(paste), "--color", "never")
    assert "0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3" not in text and "<redacted-session>" in text
    assert "10.20.30.40:443" in text  # the user's own terminal: addresses stay readable
    _, md, _ = cli("analyze", str(paste), "--format", "markdown")
    assert "10.20.30.40" not in md and "ip-1:443" in md
    assert "0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3" not in md
