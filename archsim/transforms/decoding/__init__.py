"""Decoding strategies as trace transforms: a workload's ``decoding:`` section
(:mod:`.spec`) turns its greedy analytic trace into the trace of speculative decoding
(:mod:`.speculative`), Medusa tree decoding (:mod:`.medusa`), superposed decoding (:mod:`.superposed`) or SkipDecode layer skipping
(:mod:`.skipdecode`), and adds GEAR's KV-compression extras (:mod:`.kv_compress`). See
``docs/decoding.md``.
"""
from __future__ import annotations

from .spec import Decoding, Gear, Medusa, SkipDecode, Speculative, Superposed


def apply_decoding(trace, w):
    """``trace`` (the greedy analytic trace of workload ``w``) under ``w``'s decoding
    strategy."""
    dec = getattr(w, "decoding", None)
    if dec is None or dec.is_greedy:
        return trace
    if dec.strategy == "speculative":
        from .speculative import speculative_trace
        trace = speculative_trace(trace, w)
    elif dec.strategy == "medusa":
        from .medusa import medusa_trace
        trace = medusa_trace(trace, w)
    elif dec.strategy == "superposed":
        from .superposed import superposed_trace
        trace = superposed_trace(trace, w)
    elif dec.skip_decode is not None:
        from .skipdecode import skip_decode_trace
        trace = skip_decode_trace(trace, w)
    if dec.kv_compression is not None:
        from .kv_compress import gear_trace
        trace = gear_trace(trace, dec.kv_compression)
    return trace


def logical_trace(w):
    """The analytic trace of workload ``w`` under its decoding strategy (before the design
    point's transforms)."""
    from ...gcpause import paused
    from ...trace.generate import generate_trace
    with paused():
        return apply_decoding(generate_trace(w), w)


__all__ = ["Decoding", "Speculative", "Medusa", "SkipDecode", "Gear", "Superposed", "apply_decoding", "logical_trace"]
