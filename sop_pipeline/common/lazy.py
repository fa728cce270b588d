"""Package names that load their module on first use (PEP 562), so importing a package stays cheap."""

from importlib import import_module


def lazy_getattr(package: str, source: dict[str, str]):
    """A module `__getattr__` for `package` that imports `package.<source[name]>` when `name` is used."""

    def __getattr__(name: str):
        if name not in source:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{source[name]}"), name)

    return __getattr__
