"""PIM-GPT against a T4 under CUDA graphs and under eager PyTorch, beside the paper's ratios.

For each of the eight PIM-GPT workloads: ms per token of ``hw_configs/pim_gpt.yaml``,
``hw_configs/gpu_t4.yaml`` (CUDA graphs) and ``hw_configs/gpu_t4_eager.yaml`` (eager, 35 us of
host dispatch per op, the host running ahead of the GPU), the speed-ups and energy-efficiency
ratios. For the eager T4's last decode step it also prints the engine's time beside two bounds:
``max(sum of dispatches, sum of kernels)`` (a host that never lets the GPU idle while both have
work) and the sum of per-op ``max(dispatch, kernel)`` (a host that never runs ahead: the model
before the engine had a host clock). The paper reports 41-137x speed-up and 123-383x energy
efficiency over its T4 (Wu et al., npj Unconventional Computing 2024), setup unknown.

Run: ``python benchmarks/pim_gpt_vs_t4.py``
"""
from __future__ import annotations

from pathlib import Path

from archsim.compare import compare
from archsim.engine.simulator import Simulator
from archsim.hardware import load_hardware
from archsim.trace.generate import generate_trace
from archsim.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("gpt2_small", "gpt2_medium", "gpt2_large", "gpt2_xl", "gpt3_small", "gpt3_medium",
          "gpt3_large", "gpt3_xl")


def eager_last_step_ms(hw_path, wl_path) -> tuple:
    """``(lower bound, engine, per-op max)``: the last decode step of an eager single-GPU design
    point in ms, and the fraction of the run the GPU waited for its host."""
    sim = Simulator(load_hardware(hw_path))
    (gpu,) = sim.system.devices.values()
    d = gpu.dispatch_ps()
    trace = generate_trace(load_workload(wl_path))
    busy = [gpu.op_cost(op).duration_ps for op in trace.decode_steps[-1].ops]  # launch + kernel
    res = sim.run(trace)
    (wait_ps,) = res.host_wait_ps.values()
    return (max(d * len(busy), sum(busy)) * 1e-9, int(res.step_ps[-1]) * 1e-9,
            sum(max(d, b) for b in busy) * 1e-9, wait_ps * 1e-12 / res.latency_s)


def main() -> int:
    hw = ROOT / "hw_configs"
    wls = [ROOT / "workloads" / "pim_gpt" / f"{m}.yaml" for m in MODELS]
    c = compare(hw / "pim_gpt.yaml", [hw / "gpu_t4.yaml", hw / "gpu_t4_eager.yaml"], wls)
    print(f"{'model':<12} {'PIM ms/tok':>10} {'T4 graphs':>10} {'T4 eager':>10} "
          f"{'speed-up graphs':>16} {'speed-up eager':>15} {'energy graphs':>14} "
          f"{'energy eager':>13} {'last eager step ms: lower / engine / per-op max':>48} "
          f"{'host wait':>9}")
    for row, wl in zip(c.rows(), wls):
        p, g, e = row["pim_gpt"], row["gpu_t4"], row["gpu_t4_eager"]
        lo, eng, hi, wait = eager_last_step_ms(hw / "gpu_t4_eager.yaml", wl)
        print(f"{row['model']:<12} {p['ms_per_token']:>10.3f} {g['ms_per_token']:>10.3f} "
              f"{e['ms_per_token']:>10.3f} {g['speedup']:>15.1f}x {e['speedup']:>14.1f}x "
              f"{g['energy_efficiency']:>13.1f}x {e['energy_efficiency']:>12.1f}x "
              f"{f'{lo:.3f} / {eng:.3f} / {hi:.3f}':>48} {wait:>8.0%}")
    print("paper (npj 2024): speed-up 41-137x, energy efficiency 123-383x over a T4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
