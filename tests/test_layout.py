"""benchmark/'s folders are the pipeline's stages, and each stage imports only the stages before it."""

import ast
from pathlib import Path

import benchmark

ROOT = Path(benchmark.__file__).parent
# shared utilities -> environments -> data -> grid (what to run) -> one run -> launching a grid / reports -> CLI
STAGES = {"utilities": 0, "envs": 1, "data": 2, "grid": 3, "run": 4, "launch": 5, "reports": 5, "entry": 6}
UTILITIES = {"errors", "results", "locks", "provenance"}
ENTRY = {"cli", "options", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> str:
    """A command's __main__ is an entry point, like the CLI: it may use every stage."""
    parts = module.split(".")
    if parts[-1] == "__main__":
        return "entry"
    if len(parts) == 1:
        return "utilities"
    if parts[1] in UTILITIES:
        return "utilities"
    if parts[1] in ENTRY:
        return "entry"
    return parts[1]


def imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("benchmark"):
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                      for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("benchmark")}
    return found


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}


def test_every_module_sits_in_a_stage_folder_or_is_a_shared_utility_or_entry_point():
    flat = {module_name(path) for path in ROOT.glob("*.py")} - {"benchmark"}
    assert flat <= {f"benchmark.{name}" for name in UTILITIES | ENTRY}, "a new flat module: put it in its stage"
    assert {stage(name) for name in MODULES} <= set(STAGES)


def test_each_stage_imports_only_earlier_stages():
    backwards = [f"{name} ({stage(name)}) imports {target} ({stage(target)})"
                 for name, path in MODULES.items() for target in imports(path, top_level_only=False)
                 if STAGES[stage(target)] > STAGES[stage(name)]
                 or (stage(target) != stage(name) and STAGES[stage(target)] == STAGES[stage(name)])]
    assert backwards == []


def test_no_import_cycles_between_modules():
    graph = {name: {t for t in imports(path, top_level_only=True) if t in MODULES and t != name}
             for name, path in MODULES.items()}
    done, on_path = set(), []

    def visit(name: str) -> None:
        if name in on_path:
            raise AssertionError("import cycle: " + " -> ".join(on_path[on_path.index(name):] + [name]))
        if name in done:
            return
        on_path.append(name)
        for target in graph[name]:
            visit(target)
        on_path.pop()
        done.add(name)

    for name in graph:
        visit(name)
