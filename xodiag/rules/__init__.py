"""The rule catalogue: one module per rule (ID, TITLE, CATEGORY, ROLE, DOC, NEXT, FIXTURE, match).

Adding a rule is one new module plus one line in ``_MODULES``; the order here is the catalogue's order.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = (
    "xd101_qcow2_close_after_nbd",
    "xd102_close_noise_init_failed",
    "xd103_close_noise_export_init",
    "xd104_close_noise_writer",
    "xd105_socket_error_event",
    "xd110_nbd_fallback",
    "xd111_nbd_handshake_failed",
    "xd112_nbd_setup_error",
    "xd113_delta_cbt_fallback",
    "xd120_nbd_read_retries",
    "xd121_nbd_storage_read_error",
    "xd130_vdi_in_use",
    "xd131_dom0_vbd_attached",
    "xd140_export_timeout",
    "xd141_export_ended_early",
    "xd142_vdi_io_error",
    "xd143_import_premature_close",
    "xd150_xapi_unreachable",
    "xd160_uncaught_exception",
    "xd161_forced_worker_exit",
    "xd170_failed_task",
    "xd171_writer_failed",
    "xd180_success",
)

RULES: tuple[ModuleType, ...] = tuple(importlib.import_module(f"xodiag.rules.{name}") for name in _MODULES)


def by_id(rule_id: str) -> ModuleType | None:
    rule_id = rule_id.upper()
    return next((r for r in RULES if r.ID == rule_id), None)
