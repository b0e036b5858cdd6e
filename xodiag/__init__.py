"""xodiag: diagnose failed Xen Orchestra backups on XCP-ng pools from their logs."""

__version__ = "0.1.0"
