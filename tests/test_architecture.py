"""The structure of issue 15 holds: layers point down, services know no web and no outside world.

The contracts are in .importlinter; `lint-imports` names the import that broke one.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / ".importlinter")],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_file_over_400_lines_in_app_wechat_or_workers():
    long = {str(p.relative_to(ROOT)): n for package in ("app", "wechat", "workers")
            for p in (ROOT / package).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def test_services_reach_the_outside_world_only_through_ports_the_factory_wires(app):
    from app.services import ports
    from wechat.push import WeChatPushes

    assert isinstance(ports.pushes._impl, WeChatPushes)
    with app.app_context():
        assert ports.config() is app.config
    assert ports.config() is None  # outside an app: services use their defaults


def test_domain_errors_are_answered_by_each_blueprint_family(app_config):
    from app import create_app
    from app.services.errors import Forbidden, NotFound

    fresh = create_app(app_config)

    def missing():
        raise NotFound()

    def refused():
        raise Forbidden("不能办理此项")

    fresh.add_url_rule("/api/v1/_missing", "missing", missing)
    fresh.add_url_rule("/console/_refused", "refused", refused)
    client = fresh.test_client()
    answer = client.get("/api/v1/_missing")
    assert answer.status_code == 404
    assert answer.get_json() == {"code": 404, "message": "页面不存在", "fields": {}}
    answer = client.get("/console/_refused")
    assert answer.status_code == 403 and "不能办理此项" in answer.get_data(as_text=True)


def _import_cycles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) in the graph of direct imports."""
    import grimp

    graph = grimp.build_graph("app", "wechat", "workers")
    edges = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                groups.append(sorted(group + [v]))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return groups


# A blueprint package's face: its __init__ defines `bp`, its view modules import it and are
# imported back to register their routes. That is the only kind of circle allowed.
BLUEPRINT_PACKAGES = ("app.h5", "app.api", "app.console", "wechat.sandbox")


def test_no_import_cycle_outside_the_blueprint_packages():
    # An order-dependent cycle only shows when one of its modules is imported first (the suite
    # imports them in one order and hides it), so the graph is checked, not an import.
    bad = [group for group in _import_cycles()
           if not any(all(m == p or m.startswith(p + ".") for m in group)
                      for p in BLUEPRINT_PACKAGES)]
    assert not bad, bad


# Where an import may stay inside a function (issue 15): the factory and CLI registration,
# which import the blueprints and commands they wire, or a line that says why (`# local: …`).
LOCAL_IMPORT_FILES = ("app/cli.py", "workers/cli.py", "wechat/cli.py")
LOCAL_IMPORT_FUNCTIONS = {"app/__init__.py": ("create_app", "register_"),
                          "wechat/__init__.py": ("init_app",),
                          "wechat/sandbox/__init__.py": ("init_app",)}


def _function_local_imports(path: Path, root: Path):
    """(file, function, line) of every import statement inside a function body; the function
    named is the outermost one, so a helper nested in an allowed function is allowed too."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    found = []

    def walk(node, outer):
        for child in ast.iter_child_nodes(node):
            name = outer
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and outer is None:
                name = child.name
            if isinstance(child, (ast.Import, ast.ImportFrom)) and outer is not None:
                text = "\n".join(lines[child.lineno - 1:child.end_lineno])
                found.append((path.relative_to(root).as_posix(), outer, child.lineno, text))
            walk(child, name)

    walk(tree, None)
    return found


def test_function_local_imports_only_in_the_factory_and_cli():
    root = Path(__file__).resolve().parents[1]
    bad = []
    for package in ("app", "wechat", "workers"):
        for path in sorted((root / package).rglob("*.py")):
            for rel, function, line, text in _function_local_imports(path, root):
                if rel in LOCAL_IMPORT_FILES or "# local: " in text:
                    continue
                if function.startswith(LOCAL_IMPORT_FUNCTIONS.get(rel, ())):
                    continue
                bad.append(f"{rel}:{line} in {function}(): {text.strip()}")
    assert not bad, "\n".join(bad)


def test_the_local_import_check_sees_a_nested_import(tmp_path):
    # The check above must not pass vacuously: an import in a method is found, one at the top
    # of a module is not.
    (tmp_path / "m.py").write_text("import os\n\nclass C:\n    def f(self):\n"
                                   "        from os import path\n        return path\n")
    assert [(f, line) for _, f, line, _ in _function_local_imports(tmp_path / "m.py",
                                                                      tmp_path)] == [("f", 5)]
