"""Lark parsers over framed blocks. Each distinct block is parsed once (results are cached by text)."""
