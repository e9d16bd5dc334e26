"""The package's shape (issue 22): its modules import each other without a
cycle, only _native.py touches the C ABI, and there is one CheckpointError.

The import graph is read from the source (every `from . import` and `from
.x import`, at module level or inside a function: a lazy import is a cycle
all the same), and each module is imported first in a fresh interpreter,
where a cycle that Python cannot resolve would fail.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = PYTHON_DIR / "synthetic_gymnax_swift"
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

import synthetic_gymnax_swift as sgs  # noqa: E402

MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"{module}.py")


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (`from . import make`
    imports the package itself: "__init__")."""
    graph = {}
    for module in MODULES:
        deps = set()
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps |= {a.name if a.name in MODULES else "__init__" for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(
                    "synthetic_gymnax_swift"):
                parts = node.module.split(".")
                if len(parts) > 1:
                    deps.add(parts[1])
                else:
                    deps |= {a.name if a.name in MODULES else "__init__" for a in node.names}
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "synthetic_gymnax_swift":
                        deps.add(parts[1] if len(parts) > 1 else "__init__")
        deps.discard(module)
        graph[module] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles():
    graph = import_graph()
    assert set(graph) == set(MODULES)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    # The leaves stay leaves (anyone may import them).
    for leaf in ("_native", "_keys", "_hooks", "defaults", "rendering"):
        assert graph[leaf] == set(), (leaf, graph[leaf])
    assert not any("__init__" in deps for module, deps in graph.items() if module != "__main__"), graph


@pytest.mark.parametrize("module", [m for m in MODULES if m != "__init__"])
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    if module == "gymnasium_env":
        pytest.importorskip("gymnasium")
    code = f"import importlib; importlib.import_module('synthetic_gymnax_swift.{module}')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


_ABI_NAMES = {"_lib", "lib", "CDLL", "cdll", "LoadLibrary", "PyDLL", "pydll"}


def abi_references(module: str) -> list[str]:
    """What `module` uses of the C library directly: `_native._lib`,
    `_native.lib()`, an `sgx_*` attribute (a library function), ctypes'
    loaders."""
    found = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Attribute) and (node.attr in _ABI_NAMES or node.attr.startswith("sgx_")):
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in _ABI_NAMES:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and any(a.name in _ABI_NAMES for a in node.names):
            found.append(f"line {node.lineno}: from {node.module} import {[a.name for a in node.names]}")
    return found


def test_abi_references_are_found():
    assert abi_references("_native"), "the check would find nothing"


@pytest.mark.parametrize("module", [m for m in MODULES if m != "_native"])
def test_only_native_touches_the_c_abi(module):
    assert abi_references(module) == [], f"{module}.py calls the library itself: route it through _native.py"


def test_one_checkpoint_error(tmp_path):
    from synthetic_gymnax_swift import _native, checkpoints

    assert checkpoints.CheckpointError is sgs.CheckpointError is _native.CheckpointError
    assert issubclass(sgs.CheckpointError, sgs.SyntheticGymnaxError) and issubclass(sgs.CheckpointError, ValueError)
    assert issubclass(checkpoints.PaperCheckpointsNotInstalled, sgs.CheckpointError)
    # The safetensors reader's errors are the package's.
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    try:
        checkpoints.read_safetensors(path)
    except sgs.CheckpointError as error:
        assert str(path) in str(error)
    else:
        pytest.fail("a truncated file was read")
    # And so are the library's, for the same file.
    with pytest.raises(sgs.CheckpointError):
        sgs.make("Synthetic-CartPole-v1", checkpoint=str(path))


def test_one_checkpoint_resolver():
    """make, VectorEnvironment, the Gymnasium adapter, evaluate_transfer and the CLI
    resolve "ours" / "paper" / a path through _paths.resolve_checkpoint."""
    from synthetic_gymnax_swift import _paths

    for module in MODULES:
        if module == "_paths":
            continue
        defined = [n.name for n in ast.walk(_tree(module)) if isinstance(n, ast.FunctionDef)]
        assert not [d for d in defined if "resolve_checkpoint" in d or d == "own_checkpoint"], module
    ours = _paths.resolve_checkpoint("Synthetic-CartPole-v1", "ours")
    assert ours == _paths.own_checkpoint("Synthetic-CartPole-v1")[0]
    assert _paths.resolve_checkpoint(None, pathlib.Path("x.safetensors")) == "x.safetensors"
    with pytest.raises(ValueError, match="needs the environment's id"):
        _paths.resolve_checkpoint(None, "ours")
    with pytest.raises(FileNotFoundError, match="--checkpoint paper"):
        _paths.resolve_checkpoint("Synthetic-hopper", None, default="ours", option="--checkpoint {}")
    env = sgs.VectorEnvironment("Synthetic-CartPole-v1", num_envs=2, checkpoint="ours")
    assert np.all(np.isfinite(env.reset()[0]))
