"""Cycle-accurate DRAM and processing-in-memory (PIM) simulation.

Public API
----------
load_spec(name_or_path, **controller) -> DramSpec
simulate(spec, addresses, is_write, arrival=None, log=False, engine="numba") -> DramResult
check_log(spec, log) -> list of violations (independent timing checker)
load_pim(name_or_path) -> PimConfig
simulate_gemv(pim, rows, cols, dtype="bf16", ...) -> GemvResult (memoized)
"""
from .controller import CommandLog, DramResult, simulate
from .checker import Violation, check_log
from .pim import GemvResult, PimSpec, clear_memo, list_pims, load_pim, simulate_gemv
from .spec import DramSpec, list_specs, load_spec

__all__ = ["load_spec", "list_specs", "simulate", "DramSpec", "DramResult", "CommandLog",
           "check_log", "Violation", "load_pim", "list_pims", "simulate_gemv", "GemvResult",
           "PimSpec", "clear_memo"]
