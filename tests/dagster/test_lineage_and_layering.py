"""The package's shape: imports run one way with no cycle, and the asset graph does not change by accident."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import yaml

import sop_pipeline

PACKAGE = Path(sop_pipeline.__file__).resolve().parent
LINEAGE_SNAPSHOT = Path(__file__).resolve().parent / "lineage_snapshot.yaml"

# common <- config <- store <- stages <- defs <- definitions <- cli: a module imports its own layer or lower ones.
LAYERS = {"common": 0, "config": 1, "store": 2, "ingest": 3, "forecasting": 3, "demand": 3, "supply": 3,
          "scenarios": 3, "alignment": 3, "report": 3, "meeting": 3, "track_record": 3, "demo": 3, "defs": 4,
          "definitions": 5, "cli": 6}


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def _runtime_nodes(tree: ast.AST):
    """Every node that can run: all but the bodies of `if TYPE_CHECKING:` (names for type checkers only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Every `sop_pipeline` module each module imports, at the top or inside a function alike."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets.add(base)
                targets |= {f"{base}.{alias.name}" for alias in node.names}
        resolved = set()
        for target in targets:
            if not target.startswith("sop_pipeline"):
                continue
            # Importing a.b.c runs a, a.b and a.b.c: each is a dependency.
            parts = target.split(".")
            resolved |= {".".join(parts[:i]) for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in modules}
        # A module's own parent packages are already importing when it runs: not a dependency of it.
        graph[name] = {t for t in resolved if t != name and not name.startswith(t + ".")}
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_import_cycle_among_the_packages_modules():
    graph = _imports(_module_names())
    assert sum(len(v) for v in graph.values()) > 50  # the walk found the package's imports
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own submodule is not a cycle Python trips over only when
    # the submodule does not import the package back; the walk above counts that too.
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_run_one_way_from_common_to_cli():
    graph = _imports(_module_names())
    wrong = []
    for module, targets in graph.items():
        own = _layer(module)
        assert own is not None or module == "sop_pipeline", f"{module} is in no layer: add it to LAYERS"
        for target in targets:
            if own is not None and _layer(target) is not None and _layer(target) > own:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def _lineage() -> dict:
    from sop_pipeline.definitions import defs

    graph = defs.get_repository_def().asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = sorted(k.to_user_string() for k in node.parent_keys)
    checks = {}
    for assets_def in graph.assets_defs:
        for spec in assets_def.check_specs:
            checks[f"{spec.asset_key.to_user_string()}:{spec.name}"] = {"blocking": bool(spec.blocking)}
    return {"assets": assets, "checks": dict(sorted(checks.items()))}


def test_the_lineage_matches_its_snapshot():
    """Asset keys, their dependencies and every check with its blocking flag, as committed in
    tests/dagster/lineage_snapshot.yaml. After an intended change:
    SOP_UPDATE_SNAPSHOT=1 pytest tests/dagster/test_lineage_and_layering.py, and review the diff."""
    current = _lineage()
    if os.environ.get("SOP_UPDATE_SNAPSHOT") == "1":
        LINEAGE_SNAPSHOT.write_text(yaml.safe_dump(current, sort_keys=True), encoding="utf-8")
    expected = yaml.safe_load(LINEAGE_SNAPSHOT.read_text(encoding="utf-8"))
    assert current["assets"] == expected["assets"]
    assert current["checks"] == expected["checks"]
