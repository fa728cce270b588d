"""Lists of names as the console and the report say them: a few by name, then how many more."""

from __future__ import annotations

from collections.abc import Sequence


def some_of(names: Sequence[str], shown: int) -> str:
    """`a, b, c and 4 more`: the first `shown` names, then the count of the rest."""
    listed = ", ".join(names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def families_named(names: Sequence[str], shown: int) -> str:
    """One family by its name; several as `12 families (a, b, c and 9 more)`."""
    return names[0] if len(names) == 1 else f"{len(names)} families ({some_of(names, shown)})"
