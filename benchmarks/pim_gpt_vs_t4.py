"""PIM-GPT against a T4 under CUDA graphs and under eager PyTorch, beside the paper's ratios.

For each of the eight PIM-GPT workloads: ms per token of ``hw_configs/pim_gpt.yaml``,
``hw_configs/gpu_t4.yaml`` (CUDA graphs) and ``hw_configs/gpu_t4_eager.yaml`` (eager, 35 us of
host dispatch per op), the speed-ups and energy-efficiency ratios, and for the eager T4 the range
its decode step could take if the host ran ahead of the GPU: the model charges each op
``max(dispatch, kernel)`` (an upper bound); the lower bound is ``max(sum of dispatches, sum of
kernels)`` per step. The paper reports 41-137x speed-up and 123-383x energy efficiency over its
T4 (Wu et al., npj Unconventional Computing 2024), setup unknown.

Run: ``python benchmarks/pim_gpt_vs_t4.py``
"""
from __future__ import annotations

from pathlib import Path

from archsim.compare import compare
from archsim.engine.system import System
from archsim.hardware import load_hardware
from archsim.trace.generate import generate_trace
from archsim.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("gpt2_small", "gpt2_medium", "gpt2_large", "gpt2_xl", "gpt3_small", "gpt3_medium",
          "gpt3_large", "gpt3_xl")


def eager_decode_bounds_ms(hw_path, wl_path) -> tuple:
    """``(lower, upper)`` decode-step time in ms of an eager single-GPU design point."""
    hw = load_hardware(hw_path)
    (gpu,) = System(hw).devices.values()
    d = gpu.config.software.host_s()
    step = generate_trace(load_workload(wl_path)).decode_steps[-1]
    busy = [gpu.op_cost(op).duration_ps * 1e-12 for op in step.ops]      # max(dispatch, gpu)
    gpu_only = [gpu.kernel_time_s(op) + gpu.kind_params(op.kind)[2] for op in step.ops]
    return (max(d * len(step.ops), sum(gpu_only)) * 1e3, sum(busy) * 1e3)


def main() -> int:
    hw = ROOT / "hw_configs"
    wls = [ROOT / "workloads" / "pim_gpt" / f"{m}.yaml" for m in MODELS]
    c = compare(hw / "pim_gpt.yaml", [hw / "gpu_t4.yaml", hw / "gpu_t4_eager.yaml"], wls)
    print(f"{'model':<12} {'PIM ms/tok':>10} {'T4 graphs':>10} {'T4 eager':>10} "
          f"{'speed-up graphs':>16} {'speed-up eager':>15} {'eager range':>13} "
          f"{'energy graphs':>14} {'energy eager':>13}")
    for row, wl in zip(c.rows(), wls):
        p, g, e = row["pim_gpt"], row["gpu_t4"], row["gpu_t4_eager"]
        lo, hi = eager_decode_bounds_ms(hw / "gpu_t4_eager.yaml", wl)
        # the host running ahead shortens the (last) decode step at most to ``lo``
        rng = f"{lo / hi * e['speedup']:.1f}-{e['speedup']:.1f}x"
        print(f"{row['model']:<12} {p['ms_per_token']:>10.3f} {g['ms_per_token']:>10.3f} "
              f"{e['ms_per_token']:>10.3f} {g['speedup']:>15.1f}x {e['speedup']:>14.1f}x "
              f"{rng:>13} {g['energy_efficiency']:>13.1f}x "
              f"{e['energy_efficiency']:>12.1f}x")
    print("paper (npj 2024): speed-up 41-137x, energy efficiency 123-383x over a T4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
