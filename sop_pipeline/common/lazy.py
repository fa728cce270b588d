"""A module imported on first use, so a step pays for the heavy library it needs and no other does.

Great Expectations (the checks) and CVXPY (planning) take 1-5 s each to import; `sop-pipeline --help`
and the steps before them should not wait for that.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands in for ``import <name>``: the first attribute looked up imports the module."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"
