"""Quoting of names put into SQL text (a user's column name may hold anything)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A safely quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'
