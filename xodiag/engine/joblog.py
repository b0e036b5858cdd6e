"""The engine's job log, in the shape XO's web UI exports (old task shape, epoch ms times)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def job_log(origin_ms: int, duration_ms: int, vm: str, vdi: str, outcome: str, path: str,
            error: str | None) -> dict[str, Any]:
    """backup -> backup VM -> export -> transfer; 'Transfer data using NBD' when NBD was used; no end
    while the run hung."""
    end = origin_ms + duration_ms
    ended = outcome != "hung"
    status = {"succeeded": "success", "failed": "failure", "hung": "pending"}[outcome]

    def task(tid: int, message: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        t: dict[str, Any] = {"id": str(origin_ms + tid), "message": message, "start": origin_ms + tid}
        if data:
            t["data"] = data
        t["status"] = status
        t.update(extra)
        if ended:
            t["end"] = end
        return t

    transfer = task(3, "transfer")
    if ended and outcome == "failed":
        transfer["result"] = {"message": f"Error in the source generator {error}", "name": "Error",
                              "stack": f"Error: Error in the source generator {error}\n    at SynchronizedDisk.next "
                                       "(/opt/xo/node_modules/@vates/generator-toolbox/dist/synchronized.mjs:58:23)"}
    elif ended:
        transfer["result"] = {"size": 0}
    export = task(2, "export", {"id": "b0b0b0b0-0000-4000-8000-000000000001", "isFull": False, "type": "remote"},
                  tasks=[transfer])
    vm_task = task(1, "backup VM", {"type": "VM", "id": vm, "name_label": "engine-vm"}, tasks=[export])
    if path == "nbd":
        vm_task["infos"] = [{"message": "Transfer data using NBD"}]
    root = task(0, "backup", {"mode": "delta", "reportWhen": "failure"}, tasks=[vm_task])
    root.update({"jobId": "e0e0e0e0-0000-4000-8000-000000000002", "jobName": "xodiag-engine",
                 "scheduleId": "e0e0e0e0-0000-4000-8000-000000000003"})
    del vdi
    return root


def write(path: Path, log: dict[str, Any]) -> None:
    path.write_text(json.dumps(log, indent=2) + "\n")
