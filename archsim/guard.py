"""Estimate a run's work and memory before it starts, and refuse a huge one without ``--force``.

A run holds its whole trace in memory: every decode step shares the op objects of the first
decode step except the attention and softmax ops, which are rebuilt for each context length
(:func:`archsim.trace.generate.build_trace`). So a workload's footprint and work are known before
the trace is built, from the op counts of one prefill and one decode step:

* ops scheduled = prefill ops + (G - 1) x decode ops, times the number of devices when the
  design point applies trace transforms (tensor, pipeline or data parallelism replicate ops:
  an upper bound);
* trace memory = (G - 1) x (decode ops x 8 B of step tuple + rebuilt ops x
  :data:`BYTES_PER_REBUILT_OP` + :data:`BYTES_PER_STEP`), same factor;
* a timeline adds :data:`BYTES_PER_TIMELINE_OP` per op scheduled (record and exported event).

Measured with ``tracemalloc`` (``python benchmarks/guard_estimates.py``): GPT-2 small and
Llama-2-7B, 8-token prompt, 1,000 generated tokens: 27.6 kB and 74.5 kB per decode step
(estimate 27.7 kB and 73.6 kB); a timeline, see :data:`BYTES_PER_TIMELINE_OP`.
The limits are :data:`MAX_OPS` and half the machine's physical memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import SimulationError

#: tracemalloc, GPT-2 small / Llama-2-7B decode steps (see module docstring)
BYTES_PER_REBUILT_OP = 730
BYTES_PER_STEP = 200
#: a recorded timeline and its Chrome-trace export, per op recorded: peak RSS of
#: ``archsim run hw_configs/pim_gpt.yaml workloads/pim_gpt/gpt2_xl.yaml --timeline x.json.gz``
#: (1,851,640 kB) minus the same run recording 3 steps (366,572 kB), over its 593,920 ops:
#: 2.56 kB (tracemalloc, which misses allocator overhead, sees 1.5-1.6 kB on smaller runs)
BYTES_PER_TIMELINE_OP = 2600
#: about 17 minutes at OPS_PER_S
MAX_OPS = 200_000_000
#: scheduling rate used only to say how long a refused run would take: warm runs of
#: benchmarks/engine_speed.py on a 2-core machine give 1.5e5-2.5e5 ops/s
OPS_PER_S = 2e5


@dataclass(frozen=True)
class Estimate:
    """What a run will cost before it starts."""

    steps: int
    ops: int
    memory_bytes: int

    def describe(self) -> str:
        return (f"{self.steps:,} steps, {self.ops:,} ops (about {self.ops / OPS_PER_S:,.0f} s at "
                f"{OPS_PER_S:.0e} ops/s), about {_human(self.memory_bytes)} of memory")


def estimate_workload(w, hw=None, *, timeline: bool = False, recorded=None) -> Estimate:
    """Estimate of running workload ``w`` (a :class:`~archsim.workload.Workload`) on design
    point ``hw``; ``recorded`` (a container of step indices) limits the timeline to those
    steps. Op counts do not depend on the batch, so ``batch_size: max`` is estimated as 1."""
    import dataclasses

    from .trace.generate import step_ops
    from .trace.schema import OpKind
    if w.batch_size == "max":
        w = dataclasses.replace(w, batch_size=1)
    P, G = w.prompt_tokens, w.generate_tokens
    prefill = step_ops(w, P, P)
    decode = step_ops(w, 1, P + 1) if G > 1 else ()
    rebuilt = sum(op.kind in (OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT, OpKind.SOFTMAX)
                  for op in decode)
    factor = _replication(hw)
    ops = (len(prefill) + (G - 1) * len(decode)) * factor
    mem = (G - 1) * (len(decode) * 8 + rebuilt * BYTES_PER_REBUILT_OP + BYTES_PER_STEP) * factor
    if timeline:
        if recorded is None:
            rec_ops = ops
        else:
            rec_ops = (len(prefill) * (0 in recorded)
                       + len(decode) * count_in(recorded, 1, G)) * factor
        mem += rec_ops * BYTES_PER_TIMELINE_OP
    return Estimate(G, ops, mem)


def count_in(selection, lo: int, hi: int) -> int:
    """How many of the indices ``lo .. hi - 1`` ``selection`` contains (by its ``ranges`` when
    it has them, without visiting each index)."""
    ranges = getattr(selection, "ranges", None)
    if ranges is None:
        return sum(1 for i in range(lo, hi) if i in selection)
    n, covered = 0, []
    for a, b in sorted((max(a, lo), hi - 1 if b is None else min(b, hi - 1)) for a, b in ranges):
        if covered and a <= covered[-1]:
            a = covered[-1] + 1
        if a <= b:
            n += b - a + 1
            covered.append(b)
    return n


def estimate_trace(trace, hw=None, *, timeline: bool = False, recorded=None) -> Estimate:
    """Estimate of replaying a loaded ``trace`` (already in memory) on ``hw``."""
    factor = _replication(hw)
    ops = trace.num_ops * factor
    mem = 0
    if timeline:
        per_step = [len(s.ops) * factor for s in trace.steps]
        mem = _recorded_ops(per_step, recorded) * BYTES_PER_TIMELINE_OP
    return Estimate(len(trace.steps), ops, mem)


def _recorded_ops(per_step: list, recorded) -> int:
    if recorded is None:
        return sum(per_step)
    return sum(n for i, n in enumerate(per_step) if i in recorded)


def check(est: Estimate, *, force: bool = False, max_ops: int = MAX_OPS,
          max_memory_bytes: int | None = None) -> None:
    """Refuse ``est`` above the limits unless ``force``."""
    if force:
        return
    limit = physical_memory_bytes() // 2 if max_memory_bytes is None else max_memory_bytes
    problems = []
    if est.ops > max_ops:
        problems.append(f"more than {max_ops:,} ops")
    if limit and est.memory_bytes > limit:
        problems.append(f"more than {_human(limit)} of memory (half of this machine's)")
    if problems:
        raise SimulationError(f"this run is too large: {est.describe()}; that is "
                              f"{' and '.join(problems)}. Shorten it (generate_tokens, "
                              "--timeline-steps) or pass --force to run it anyway")


def physical_memory_bytes() -> int:
    """Physical memory of this machine (0 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _replication(hw) -> int:
    if hw is None or not hw.trace_transforms():
        return 1
    return max(1, len(hw.devices))


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
