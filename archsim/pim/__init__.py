"""Processing-in-memory (PIM) on DRAM banks, built on :mod:`archsim.dram`.

Public API
----------
load_pim(name_or_path) -> PimSpec
simulate_gemv(pim, rows, cols, dtype=None, ...) -> GemvResult (memoized)
simulate_scores_concat(pim, kv_len, head_dim, kv_heads, q_per_kv, ...) -> GemvResult or None
gemv_command_log(pim, rows, cols, ...) -> CommandLog (for archsim.dram.check_log)
attention_step(pim, heads, head_dim, kv_len, ...) -> dict (one decode step's attention)
simulate_scores_packed(pim, heads, head_dim, kv_len, ...) -> GemvResult (head per channel)
simulate_attacc(pim, heads, head_dim, kv_len, ...) -> GemvResult (AttAcc's whole step)

Modules: ``commands`` (PIM command set and timing rules as data), ``spec`` (PIM config, loading,
energy table), ``kernel`` (in-order scheduler, numba), ``gemv`` (GEMV streams, memo),
``attention`` (head concatenation), ``mapping`` (attention mappings by name), ``cli``
(``archsim pim-gemv``), ``attention_step`` (``archsim pim-attention``), ``head_per_channel``
(AttAcc-style head-per-channel attention, tokens packed per row), ``attacc_mapping`` (AttAcc's
own command stream for a whole step), ``window_kernel`` (two-lane scheduler with barriers).
"""
from ..dram import lazy_exports

#: public name -> submodule (imported on first use, so that importing a config module does not
#: load numba)
_EXPORTS = {"simulate_scores_concat": "attention", "attention_step": "attention_step",
            "PIM_COMMANDS": "commands", "simulate_scores_packed": "head_per_channel",
            "PIM_RULES": "commands", "pim_command_set": "commands", "GemvResult": "gemv",
            "clear_memo": "gemv", "gemv_command_log": "gemv", "simulate_gemv": "gemv",
            "DTYPE_BYTES": "spec", "PimConfig": "spec", "PimOrganization": "spec",
            "PimSpec": "spec", "list_pims": "spec", "load_pim": "spec",
            "PimMapping": "spec", "simulate_attacc": "attacc_mapping"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
