"""xodiag report: the bundle's files, the plot (real PNG and SVG checks) and redaction."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def _report(run_cli, args: list, out: Path) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    code, _out, err = run_cli(["report", *map(str, args), "--out", str(out)])
    return code, err


def _leaks(secret: str, text: str) -> bool:
    """A secret as a whole token (a host named `xo` must not match `xodiag` or `/opt/xo/`)."""
    return re.search(rf"(?<![\w/.-]){re.escape(secret)}(?![\w:/-])", text) is not None


def _secrets(folder: Path) -> set[str]:
    """Every secret or identity the sample's logs hold: session ids, passwords, IPs, host names."""
    text = "\n".join(p.read_text(errors="replace") for p in folder.iterdir() if p.suffix != ".md"
                     and p.name != "expected.json")
    found = set(re.findall(r"session_id=(OpaqueRef:[0-9a-f-]{36})", text))
    found |= set(re.findall(r"pwd\s*[:=]\s*'([^']+)'", text))
    found |= {ip for ip in re.findall(r"\b(?:10|192\.168)(?:\.\d{1,3}){2,3}\b", text) if ip.count(".") == 3}
    found |= set(re.findall(r"^[A-Z][a-z]{2} [ 0-9]\d [0-9:]{8}(?:\.\d+)? (\S+) ", text, re.M))
    return {s for s in found if s and s not in ("-",)}


@pytest.mark.parametrize("folder", ["april-2026-nbd-stream-init", "xensource-variants", "console-nbd-fallback"])
def test_no_secret_survives_redaction(run_cli, tmp_path: Path, folder: str) -> None:  # type: ignore[no-untyped-def]
    secrets = _secrets(SAMPLES / folder)
    assert secrets, "the sample should hold something to redact"
    code, err = _report(run_cli, [SAMPLES / folder], tmp_path)
    assert code == 0, err
    for name in ("report.md", "analysis.json", "timeline.svg"):
        text = (tmp_path / name).read_text()
        leaked = sorted(s for s in secrets if _leaks(s, text))
        assert leaked == [], f"{name} leaks {leaked}"


def test_secrets_in_evidence_lines_are_redacted(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A pasted error whose evidence line itself carries an export name, a password and an address.
    log = tmp_path / "paste.txt"
    log.write_text(
        "Error: connect ECONNREFUSED 10.20.30.40:443 while opening "
        "/4a8e1b52-8c0f-4f0e-9d6b-1f2e3d4c5b6a?session_id=OpaqueRef:0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3 "
        "with password: 'Hunter2pass'\n"
    )
    out = tmp_path / "out"
    code, err = _report(run_cli, [log], out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "ip-1:443" in md and "session_id=<redacted-session>" in md  # the line is shown, redacted
    for name in ("report.md", "analysis.json", "timeline.svg"):
        text = (out / name).read_text()
        for secret in ("0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3", "Hunter2pass", "10.20.30.40"):
            assert secret not in text, f"{name} leaks {secret}"
    # --no-redact keeps them
    out2 = tmp_path / "raw"
    code, err = run_cli(["report", str(log), "--out", str(out2), "--no-redact"])[0::2]
    assert code == 0
    assert "0b7c2d9e-1111-4e5f-a6b7-c8d9e0f1a2b3" in (out2 / "analysis.json").read_text()


def test_report_bundle_and_plot(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    code, err = _report(run_cli, [SAMPLES / "april-2026-nbd-stream-init"], tmp_path)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.json", "report.md", "timeline.png",
                                                           "timeline.svg"]
    img = Image.open(tmp_path / "timeline.png")
    assert img.format == "PNG"
    assert img.size[0] == 1000 and 300 <= img.size[1] <= 1200
    colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20, "the plot should not be blank"
    assert any(c[1][0] > 200 and c[1][1] < 80 and c[1][2] < 80 for c in colors), "no red root-cause marker"
    svg = (tmp_path / "timeline.svg").read_text()
    lanes = set(re.findall(r'id="lane-(\d+)"', svg))
    # xo-server, job log, and xapi + xapi-nbd for each of the two hosts
    assert len(lanes) == 6
    analysis = json.loads((tmp_path / "analysis.json").read_text())
    assert analysis["schema_version"] == 1
    assert analysis["verdict"]["outcome"] == "failed"
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("## xodiag verdict") and "timeline.png" in md


def test_plot_bins_a_million_events(tmp_path: Path) -> None:
    """A 1M-event lane is drawn as a binned histogram: the SVG stays small (not 1M markers).

    The drawing time is printed, not asserted (machines here are noisy; see tests/bench for figures)."""
    import time

    import numpy as np
    import pandas as pd

    from xodiag.diagnose import Diagnosis
    from xodiag.findings import Verdict
    from xodiag.render.plot import draw
    from xodiag.timeline import Timeline

    n = 1_000_000
    start = pd.Timestamp("2026-05-02T01:00:00Z")
    df = pd.DataFrame({
        "time_xo": start + pd.to_timedelta(np.arange(n) * 3, unit="ms"),
        "format": np.where(np.arange(n) % 3 == 0, "xensource", "xo-journal"),
        "host": np.where(np.arange(n) % 3 == 0, "xcp-a", "xo"),
        "source": "big.log", "line": np.arange(1, n + 1), "what": None,
    })
    diag = Diagnosis(verdict=Verdict("unknown", None, "unknown", "-"), findings=[], timeline=Timeline(df=df))
    t0 = time.perf_counter()
    lanes = draw(diag, tmp_path / "t.png", tmp_path / "t.svg")
    print(f"plot of {n} events: {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    assert lanes == ["xo-server", "xcp-a xapi"]
    assert (tmp_path / "t.svg").stat().st_size < 2_000_000
    assert (tmp_path / "t.png").stat().st_size > 5_000


def test_redaction_keeps_the_product_names() -> None:
    """A host named `xo` is redacted where the logs name it, not where the report says XO."""
    from xodiag.render.redact import Redactor

    r = Redactor(["xo", "xcp-a"])
    assert r.text("Apr 14 02:22:11 xo xo-server[812]: XO read blocks over NBD on xcp-a") == \
        "Apr 14 02:22:11 host-1 xo-server[812]: XO read blocks over NBD on host-2"
