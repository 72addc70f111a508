"""Cycle-accurate DRAM simulation (processing-in-memory builds on it in :mod:`archsim.pim`).

Public API
----------
load_spec(name_or_path, **controller) -> DramSpec
simulate(spec, addresses, is_write, arrival=None, log=False, engine="numba", progress=None)
    -> DramResult
check_log(spec, log) -> list of violations (independent timing checker)
"""
import importlib

#: public name -> submodule (imported on first use, so that importing a config module does not
#: load numba)
_EXPORTS = {"Violation": "checker", "check_log": "checker", "CommandLog": "controller",
            "DramResult": "controller", "simulate": "controller", "DramSpec": "spec",
            "list_specs": "spec", "load_spec": "spec"}
__all__ = sorted(_EXPORTS)


def lazy_exports(package: str, exports: dict):
    """A module ``__getattr__`` (PEP 562) importing ``exports[name]`` of ``package`` on first
    use."""
    def __getattr__(name):
        mod = exports.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{mod}"), name)
    return __getattr__


__getattr__ = lazy_exports(__name__, _EXPORTS)
