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
        trace = gear_trace(trace, dec.kv_compression, w)
    return trace


def check_design_point(w, hw) -> None:
    """Refuse a decoding strategy that design point ``hw``'s parallelism plan would shard
    wrongly. Speculative and Medusa decoding are split with tensor and data parallelism and an
    attention pool (:mod:`.plan_roles`: the draft sharded like the target on the dense units,
    Medusa's heads as vLLM runs them, the target's verification or tree attention on the
    pool); pipeline stages know only the target's layers, and a plan recounts attention from
    its shape, so it would drop GEAR's extra bytes and FLOPs."""
    dec = getattr(w, "decoding", None)
    if hw is None or dec is None or dec.is_greedy or hw.parallelism is None:
        return
    from ...errors import ConfigError
    plan, what = hw.parallelism, None
    if dec.strategy in ("speculative", "medusa") and plan.pipeline > 1:
        what = (f"{dec.strategy} decoding adds ops (a draft model's, Medusa's heads) that "
                "pipeline stages cannot split; tensor and data parallelism and an attention "
                "pool can")
    elif dec.kv_compression is not None:
        what = "GEAR's extra KV bytes and FLOPs would be lost when the plan splits attention"
    if what:
        raise ConfigError(f"workload decoding with design point {hw.name!r}'s parallelism "
                          f"plan is not modelled: {what}; use a design point without a "
                          "parallelism plan (placement rules may put the draft on its own "
                          "device)", key="decoding")


def logical_trace(w, hw=None):
    """The analytic trace of workload ``w`` under its decoding strategy (before the design
    point's transforms), checked against design point ``hw`` (:func:`check_design_point`)."""
    check_design_point(w, hw)
    from ...gcpause import paused
    from ...trace.generate import generate_trace
    with paused():
        return apply_decoding(generate_trace(w), w)


__all__ = ["Decoding", "Speculative", "Medusa", "SkipDecode", "Gear", "Superposed", "apply_decoding", "logical_trace",
           "check_design_point"]
