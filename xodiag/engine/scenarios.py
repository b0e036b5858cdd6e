"""The scenarios: a disk format, the faults and when they strike.

A host fault is injected with nbdkit filters or engine-side cuts (see ``pool.py``); a moment is a
fraction of the blocks copied. Hosts are numbered from 1 (127.0.0.2 is host 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    fmt: str = "vhd"  # vhd | qcow2: the export stream's format
    host_faults: dict[int, dict[str, Any]] = field(default_factory=dict)  # host number -> fault
    all_hosts: dict[str, Any] | None = None  # one fault on every host
    nbd_info: str = "normal"  # normal | empty | error (VDI.get_nbd_info raises a XapiError)
    stream_fault: dict[str, Any] | None = None  # {"kind": "abort"|"stall", "at": fraction of the stream}
    concurrency: int = 1

    def fault_of(self, host: int) -> dict[str, Any] | None:
        return self.host_faults.get(host) or self.all_hosts


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("clean", "no fault: a VHD export read over NBD"),
    Scenario("april-2026", "the April 2026 incident: a qcow2 export whose NBD connect succeeds",
             fmt="qcow2"),
    Scenario("host-down", "host 1 is dead (SYN dropped): its connect times out, host 2 serves",
             host_faults={1: {"kind": "dead"}}, concurrency=2),
    Scenario("refused", "host 1 refuses connections (nothing listening), host 2 serves",
             host_faults={1: {"kind": "refused"}}, concurrency=2),
    Scenario("cut-before-starttls", "every host closes the connection before answering STARTTLS",
             all_hosts={"kind": "cut", "at": "before-starttls"}),
    Scenario("cut-after-starttls", "every host closes the connection after STARTTLS, before the TLS handshake",
             all_hosts={"kind": "cut", "at": "after-starttls"}),
    Scenario("cut-at-export-name", "every host closes the connection at the export name (xapi-nbd cannot serve)",
             all_hosts={"kind": "cut", "at": "at-export-name"}),
    Scenario("tls-failure", "the TLS handshake fails on every host", all_hosts={"kind": "tls-failure"}),
    Scenario("server-busy", "every host is at its connection limit", all_hosts={"kind": "busy"}),
    Scenario("read-errors", "every host fails every read with EIO once the copy has started",
             all_hosts={"kind": "read-errors", "rate": "100%", "at": 0.0}),
    Scenario("read-errors-rare", "1% of the reads fail with EIO; retries recover",
             all_hosts={"kind": "read-errors", "rate": "1%", "at": 0.0}),
    Scenario("slow-reads", "every read is delayed by 5 ms", all_hosts={"kind": "slow", "rdelay": "5ms"}),
    Scenario("nbd-gone", "the NBD server dies a third of the way through the copy",
             all_hosts={"kind": "kill", "at": 0.33}),
    Scenario("stream-aborted", "no NBD host answers; the fallback export stream is aborted halfway",
             all_hosts={"kind": "refused"}, stream_fault={"kind": "abort", "at": 0.5}),
    Scenario("stream-stalled", "no NBD host answers; the fallback export stream stalls past the inactivity timeout",
             all_hosts={"kind": "refused"}, stream_fault={"kind": "stall", "at": 0.5}),
    Scenario("nbd-info-empty", "VDI.get_nbd_info lists no host (no network with purpose nbd)", nbd_info="empty"),
    Scenario("nbd-info-error", "VDI.get_nbd_info fails with a XapiError (not NO_NBD_AVAILABLE)", nbd_info="error"),
)

BY_NAME = {s.name: s for s in SCENARIOS}
