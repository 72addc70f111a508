"""Public names imported on first use (PEP 562), so that importing a package, and the CLI's
quick commands, load no heavy dependency (numba, networkx, SimPy, matplotlib) until a name that
needs one is used."""
from __future__ import annotations

import importlib


def lazy_exports(package: str, namespace: dict, exports: dict, submodules=()):
    """``(__getattr__, __dir__)`` for ``package`` whose public names are ``exports`` (name ->
    relative module defining it) and ``submodules`` (subpackages reachable as attributes).
    ``namespace`` is the package's ``globals()``: a name, once imported, is cached there."""

    def __getattr__(name):
        if name in submodules:
            value = importlib.import_module("." + name, package)
        elif name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports) | set(submodules))

    return __getattr__, __dir__
