"""Run code when a module is imported, without importing it ourselves.

jax and gymnax take seconds to import; this package needs them only if the
user does. `after_import("jax", fn)` calls fn(module) now if jax is already
imported, else right after the user's own `import jax`.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading

_pending: dict[str, list] = {}
_lock = threading.Lock()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _pending:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_run(module):
            exec_module(module)
            with _lock:
                callbacks = _pending.pop(name, [])
            for fn in callbacks:
                fn(module)

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                exec_then_run(module)

        spec.loader = _Loader()
        return spec


_finder = _Finder()


def after_import(name: str, fn) -> None:
    """Calls fn(module) once `name` is imported (now, if it already is)."""
    module = sys.modules.get(name)
    if module is not None:
        fn(module)
        return
    with _lock:
        _pending.setdefault(name, []).append(fn)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
