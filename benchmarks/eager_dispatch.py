"""Host time per op of eager PyTorch decoding on this machine's CPU (the GPU model's ``dispatch``).

The reference implementation (:mod:`archsim.reference`) decodes a model so narrow that its
arithmetic is negligible (hidden size 64, 2 layers: the tiny GPT-2 of the test fixtures), without
the profiler, and times each decode step. A step of that model is almost all host work: Python,
the PyTorch dispatcher and allocator, one trip per op. Dividing a decode step's wall time by the
number of ops of its trace gives the eager host cost per op, which is what a GPU waits for in
eager mode when its kernels are shorter (``software: eager`` in a GPU device entry).

It is a property of this CPU, this Python and this PyTorch build: another CPU, driver or framework
version changes it, and on a CUDA device ``cudaLaunchKernel`` adds its own few microseconds on
top (not measurable here). The figure also prints the same ops' times under ``archsim capture``
(profiler on), whose per-region bookkeeping inflates small ops.

Run: ``python benchmarks/eager_dispatch.py [--steps N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "kineto" / "tiny_gpt2.yaml"


def eager_us_per_op(workload_path, steps: int, repeat: int) -> tuple:
    """``(median us per op, ops per decode step, step times in us)`` of eager decoding."""
    import torch

    from archsim.reference.decode import StepTimer, generate, model_for, prompt_ids
    from archsim.trace.generate import generate_trace
    from archsim.workload import load_workload
    w = load_workload(workload_path, overrides=[f"generate_tokens={steps}"])
    trace = generate_trace(w)
    ops = len(trace.decode_steps[0].ops)
    model = model_for(w)
    ids = prompt_ids(w)
    generate(model, ids, steps)  # warm-up
    best = []
    for _ in range(repeat):
        timer = StepTimer("cpu")
        generate(model, ids, steps, timer=timer)
        best.append(statistics.median(timer.step_ns()[1:]) / 1e3)
    torch_threads = torch.get_num_threads()
    return min(best) / ops, ops, min(best), torch_threads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=32, help="decode steps per generation")
    ap.add_argument("--repeat", type=int, default=5, help="generations (the best is kept)")
    a = ap.parse_args(argv)
    import torch
    per_op, ops, step_us, threads = eager_us_per_op(TINY, a.steps, a.repeat)
    print(f"CPU {platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({threads} threads), Python {platform.python_version()}")
    print(f"tiny GPT-2 (2 layers, hidden 64), eager, no profiler: decode step {step_us:.1f} us "
          f"for {ops} ops = {per_op:.2f} us per op (median step, best of {a.repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
