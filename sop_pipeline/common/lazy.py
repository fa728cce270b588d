"""Imports that wait for first use (PEP 562 package names, and whole modules), so importing stays cheap.

Great Expectations (the checks) and CVXPY (planning) take 1-5 s each to import: a step pays for the
library it needs, and `sop-pipeline --help` or the steps before it do not.
"""

from importlib import import_module
from types import ModuleType


def lazy_getattr(package: str, source: dict[str, str]):
    """A module `__getattr__` for `package` that imports `package.<source[name]>` when `name` is used."""

    def __getattr__(name: str):
        if name not in source:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{source[name]}"), name)

    return __getattr__


class LazyModule:
    """Stands in for ``import <name>``: the first attribute looked up imports the module."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"
