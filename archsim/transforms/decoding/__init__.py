"""Decoding strategies as trace transforms: a workload's ``decoding:`` section
(:mod:`.spec`) turns its greedy analytic trace into the trace of speculative decoding
(:mod:`.speculative`), Medusa tree decoding (:mod:`.medusa`) or SkipDecode layer skipping
(:mod:`.skipdecode`). See ``docs/decoding.md``.
"""
from __future__ import annotations

from .spec import Decoding, Medusa, SkipDecode, Speculative


def apply_decoding(trace, w):
    """``trace`` (the greedy analytic trace of workload ``w``) under ``w``'s decoding
    strategy."""
    dec = getattr(w, "decoding", None)
    if dec is None or dec.is_greedy:
        return trace
    if dec.strategy == "speculative":
        from .speculative import speculative_trace
        return speculative_trace(trace, w)
    if dec.strategy == "medusa":
        from .medusa import medusa_trace
        return medusa_trace(trace, w)
    from .skipdecode import skip_decode_trace
    return skip_decode_trace(trace, w)


def logical_trace(w):
    """The analytic trace of workload ``w`` under its decoding strategy (before the design
    point's transforms)."""
    from ...gcpause import paused
    from ...trace.generate import generate_trace
    with paused():
        return apply_decoding(generate_trace(w), w)


__all__ = ["Decoding", "Speculative", "Medusa", "SkipDecode", "apply_decoding", "logical_trace"]
