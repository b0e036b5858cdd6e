"""The files here are benchmark scripts, not tests: keep pytest from collecting or importing them."""

collect_ignore_glob = ["*.py"]
