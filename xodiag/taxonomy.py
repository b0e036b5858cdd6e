"""What each event is, in XO's and xapi's terms: the event kinds the rules reason about.

``classify(table)`` adds a ``what`` column. Each kind is one regex over the event's message (and
sometimes its namespace, error or frames); the first kind that matches wins, in the order below.
The catalogue follows XO's export path (../shared/domain/xo-export-path.md, section 8) and the
xapi / xapi-nbd catalogues (log-formats.md, sections 5 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Kind:
    name: str
    doc: str
    message: str | None = None  # regex searched in message (or raw for fragments)
    namespace: str | None = None  # regex matched against the namespace
    error: str | None = None  # regex searched in error_name / error_code / error_message
    event_kind: str | None = None  # the framing kind (task-end, raw-stderr, ...)


KINDS: tuple[Kind, ...] = (
    # --- job log tasks --------------------------------------------------------------------
    Kind("task-failure", "a job-log task ended in failure", event_kind="task-end", message=r": failure$"),
    Kind("task-interrupted", "a job-log task was interrupted", event_kind="task-end", message=r": interrupted$"),
    Kind("task-success", "a job-log task succeeded", event_kind="task-end", message=r": success$"),
    Kind("task-start", "a job-log task started", event_kind="task-start"),
    Kind("nbd-used-info", "job log: at least one disk used NBD", message=r"^Transfer data using NBD$"),
    Kind("nbd-export-task", "xapi's progress task for an export read through NBD",
         message=r"Exporting content of VDI .* through NBD"),
    # --- XO: export path --------------------------------------------------------------------
    Kind("export-open", "XO opened an HTTP export stream (export through vhd|qcow2)",
         message=r"^export through (?:vhd|qcow2)\b"),
    Kind("nbd-fallback", "NO_NBD_AVAILABLE: this disk falls back to the stream export",
         message=r"can't connect through NBD, fall back to stream export"),
    Kind("nbd-none", "no NBD candidate worked or none was listed (NO_NBD_AVAILABLE)",
         message=r"can't connect to any nbd client|Fail to connect to any Nbd client", error=r"NO_NBD_AVAILABLE"),
    Kind("nbd-connect-failed", "one NBD handshake failed; XO drops that address and tries the next",
         message=r"can't connect to one nbd client"),
    Kind("nbd-incomplete", "fewer NBD connections than nbdConcurrency",
         message=r"incomplete connection by multi Nbd"),
    Kind("read-retry", "an NBD read failed; XO reconnects and retries the block",
         message=r"will retry reading block"),
    Kind("delta-full-fallback", "the delta export failed and XO retries as a full",
         message=r"can't compute delta .* [Ff]all ?[Bb]ack to a full|Backup fell back to a full"),
    Kind("cbt-fallback", "CBT could not be used; the disk is read with NBD + stream",
         message=r"^Error in openNbdCBT"),
    Kind("qcow2-close-noise", "unhandled RequestAbortedError from XO closing a qcow2 export stream",
         message=r"unhandled error event", error=r"UND_ERR_ABORTED|RequestAbortedError"),
    Kind("unhandled-error-event", "an error event nobody listened to (logged and swallowed)",
         message=r"unhandled error event"),
    Kind("uncaught-exception", "an uncaught exception in the XO process", message=r"^uncaught exception"),
    Kind("unhandled-rejection", "a rejected promise nobody awaited", message=r"^possibly unhandled rejection"),
    Kind("xapi-retry", "XO retries a XAPI call (VDI_IN_USE, TOO_MANY_PENDING_TASKS)",
         message=r"^retry$", namespace=r"^xo:xapi$"),
    Kind("dom0-disconnect", "XO removes the dom0 VBDs of a VDI",
         message=r"has been disconnected from dom0|was already destroyed|Couldn't disconnect .* from dom0"),
    Kind("writer-failed", "a backup writer (remote or SR) failed a step",
         message=r"writer step failed|all targets have failed|has failed the step"),
    Kind("worker-start", "the backup worker started a run", message=r"^starting backup$"),
    Kind("worker-end", "the backup worker finished a run", message=r"^backup has ended$"),
    Kind("worker-forced-exit", "the worker did not exit by itself (open handles, e.g. leaked sockets)",
         message=r"worker process did not exit automatically"),
    Kind("worker-exit", "the worker process exits", message=r"^process will exit$"),
    Kind("worker-crash", "the worker died before sending its result", message=r"worker exited with code",
         error=r"worker exited with code"),
    Kind("heap-oom", "Node ran out of heap and aborted",
         message=r"JavaScript heap out of memory|Reached heap limit|FATAL ERROR: .*Allocation failed"),
    Kind("transfer-error", "the swallowed transfer error printed on stderr", event_kind="raw-stderr"),
    # --- xapi-nbd ------------------------------------------------------------------------------
    Kind("nbd-new-client", "xapi-nbd accepted a connection", message=r"^Got new client$"),
    Kind("nbd-serving", "xapi-nbd is serving a client", message=r"^Serving new client"),
    Kind("nbd-disc", "a clean NBD disconnect", message=r"Received NBD_CMD_DISC"),
    Kind("nbd-client-exception", "xapi-nbd failed a connection (its one failure line)",
         message=r"Caught exception while handling client"),
    Kind("vbd-plug", "xapi-nbd plugs a dom0 VBD", message=r"^Plugging VBD "),
    Kind("vbd-unplug", "xapi-nbd unplugs a dom0 VBD", message=r"^Unplugging VBD "),
    Kind("vbd-destroy", "xapi-nbd destroys a dom0 VBD", message=r"^Destroying VBD "),
    Kind("nbd-login-failed", "xapi-nbd cannot log in to xapi",
         message=r"Failed to log in via xapi's Unix domain socket"),
    # --- xapi ----------------------------------------------------------------------------------
    Kind("vdi-in-use", "VDI_IN_USE: a VBD still holds the VDI", error=r"VDI_IN_USE",
         message=r"VDI_IN_USE|Disk is still attached to DOM0|VDI must be free"),
    Kind("vdi-io-error", "VDI_IO_ERROR (vhd-tool / storage)", error=r"VDI_IO_ERROR", message=r"VDI_IO_ERROR"),
    Kind("vhd-tool-error", "vhd-tool reported an error", message=r"vhd-tool.*(?:error|exception)"),
    Kind("sr-error", "SR backend failure", error=r"SR_BACKEND_FAILURE", message=r"SR_BACKEND_FAILURE"),
    Kind("vbd-audit", "xapi API call on a VBD", message=r"^VBD\.(?:create|plug|unplug|destroy|unplug_force)\b"),
    Kind("vdi-destroy", "xapi API call destroying a VDI", message=r"^VDI\.(?:destroy|data_destroy)\b"),
    Kind("get-nbd-info", "xapi API call VDI.get_nbd_info", message=r"^VDI\.get_nbd_info\b"),
    Kind("export-task", "xapi export task for a VDI", message=r"Exporting content of VDI|export_raw_vdi|Copying VDI"),
    Kind("backtrace", "an OCaml backtrace", event_kind="backtrace"),
)

KIND_NAMES = tuple(k.name for k in KINDS)


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def classify(table: pd.DataFrame) -> pd.Series:
    """The ``what`` of every event. One combined regex pass finds the candidates (most events of a big
    log are routine and match no kind); only those are classified, kind by kind in catalogue order, each
    kind's regexes run over the candidates still unclassified: the first kind that matches wins."""
    import numpy as np
    import pandas as pd

    from xodiag.textsearch import contains

    n = len(table)
    out = np.full(n, None, dtype=object)
    if not n:
        return pd.Series(out, index=table.index, dtype=object)
    message = table["message"].to_numpy(dtype=object)
    err = np.empty(n, dtype=object)
    err.fill("  ")  # error_name, error_code and error_message joined by spaces; one shared str
    parts = [table[c].to_numpy(dtype=object) for c in ("error_name", "error_code", "error_message")]
    with_err = np.flatnonzero(table[["error_name", "error_code", "error_message"]].notna().any(axis=1).to_numpy())
    err[with_err] = [" ".join(_s(p[i]) for p in parts) for i in with_err]
    kinds = table["kind"].to_numpy(dtype=object)
    event_kinds = [k.event_kind for k in KINDS if k.event_kind]
    any_message = "|".join(f"(?:{k.message})" for k in KINDS if k.message)
    any_error = "|".join(f"(?:{k.error})" for k in KINDS if k.error)
    cand = np.flatnonzero(contains(message, any_message) | contains(err, any_error) | np.isin(kinds, event_kinds))
    msg_c, err_c, kind_c = message[cand], err[cand], kinds[cand]
    ns_c = table["namespace"].to_numpy(dtype=object)[cand]
    todo = np.ones(len(cand), dtype=bool)
    for kind in KINDS:
        sel = todo & (kind_c == kind.event_kind) if kind.event_kind is not None else todo.copy()
        idx = np.flatnonzero(sel)
        if not len(idx):
            continue
        if kind.namespace is not None:
            idx = idx[contains(ns_c[idx], kind.namespace)]
        if kind.message is not None or kind.error is not None:
            none = np.zeros(len(idx), dtype=bool)
            hit_msg = contains(msg_c[idx], kind.message) if kind.message is not None else none
            hit_err = contains(err_c[idx], kind.error) if kind.error is not None else none
            idx = idx[(hit_msg & hit_err) if kind.name == "qcow2-close-noise" else (hit_msg | hit_err)]
        out[cand[idx]] = kind.name
        todo[idx] = False
    return pd.Series(out, index=table.index, dtype=object)
