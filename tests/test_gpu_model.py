"""The GPU model: kernel floors, tile and wave quantisation, split-K, attention kernels that
differ, and a host that binds in eager mode and not under CUDA graphs."""
import math
from pathlib import Path

import pytest

from archsim.api import run
from archsim.cli import main as archsim_main
from archsim.devices.gpu_kernels import KernelModel, plan_gemm
from archsim.engine.system import System
from archsim.hardware import load_hardware
from archsim.trace.counting import attention, elementwise, matmul
from archsim.trace.generate import generate_trace
from archsim.trace.schema import OpKind
from archsim.workload import load_workload

ROOT = Path(__file__).resolve().parents[1]
PEAK = 100e12      # FLOP/s, so that one SM of four does 25 TFLOP/s
BW = 1e12          # B/s


def km(**kw):
    base = dict(sm_count=4, l2_cache_bytes=1e12, gemm_tiles=("128x128",), split_k_max=1,
                source="test")
    base.update(kw)
    return KernelModel(**base)


def plan(m, n, k, model, **kw):
    return plan_gemm(m, n, k, batch=kw.pop("batch", 1), a_bytes=2 * m * k, b_bytes=2 * k * n,
                     c_bytes=2 * m * n, km=model, peak_flop_per_s=PEAK,
                     bandwidth_bytes_per_s=BW, **kw)


def t4(stack="cuda_graphs"):
    dev = {"extends": "t4"}
    if stack == "eager":
        dev["software"] = {"stack": "eager", "dispatch": "35 us", "source": "test"}
    hw = load_hardware({"name": "t4_" + stack, "devices": {"gpu0": dev}})
    return hw, System(hw).devices["gpu0"]


def test_wave_quantisation_on_hand_computed_shapes():
    # 256 x 512 with 128 x 128 tiles: 2 x 4 = 8 CTAs on 4 SMs = 2 full waves; each wave is one
    # tile's 2 * 128 * 128 * 1024 FLOPs at one SM's 25 TFLOP/s
    wave_s = 2 * 128 * 128 * 1024 / (PEAK / 4)
    p = plan(256, 512, 1024, km())
    assert (p.ctas, p.waves) == (8, 2)
    assert p.t_cmp_s == pytest.approx(2 * wave_s)
    # one more column of tiles (n = 513 -> 5 columns, 10 CTAs) costs a whole third wave
    p = plan(256, 513, 1024, km())
    assert (p.ctas, p.waves) == (10, 3)
    assert p.t_cmp_s == pytest.approx(3 * wave_s)
    # tile quantisation: 129 rows cost as much as 256
    assert plan(129, 512, 1024, km()).t_cmp_s == pytest.approx(plan(256, 512, 1024, km()).t_cmp_s)
    # the ideal (unquantised) time of 256 x 513 would be only 0.5% above 256 x 512
    assert 256 * 513 / (256 * 512) < 1.01


def test_occupancy_and_split_k_for_a_skinny_decode_gemm():
    # a 1-row GEMV, n = 128, k = 8192: two 1 x 64 tiles leave 38 of 40 SMs idle, so it reaches
    # 2/40 of the bandwidth; split-K into 16 slices fills 32 SMs
    model = km(sm_count=40, gemm_tiles=("128x64",))
    no_split = plan(1, 128, 8192, model, pad_m=False)
    assert (no_split.ctas, no_split.split_k) == (2, 1)
    assert no_split.t_mem_s == pytest.approx(no_split.dram_bytes / (BW * 2 / 40))
    split = plan(1, 128, 8192, km(sm_count=40, gemm_tiles=("128x64",), split_k_max=16),
                 pad_m=False)
    assert split.split_k == 16 and split.ctas == 32
    # the float32 partial sums are written and read once per slice
    weights = 2 * 8192 * 128 + 2 * 8192 + 2 * 128
    assert split.dram_bytes == pytest.approx(weights + 2 * 16 * 128 * 4)
    assert split.t_mem_s < no_split.t_mem_s / 10


def test_kernel_floor_binds_small_kernels_only():
    hw, gpu = t4()
    r = hw.devices["gpu0"].roofline
    tiny = elementwise(0, "add", OpKind.ELEMENTWISE, 0, 1, 768, "add", "fp16", (), inputs=2)
    assert gpu.kernel_time_s(tiny) == pytest.approx(r.floor_s)
    cost = gpu.op_cost(tiny)
    assert cost.duration_ps == round((r.launch_overhead_s + r.floor_s) * 1e12)
    assert cost.detail["bound"] == "floor"
    big = matmul(1, "ffn", 0, 1, 3072, 768, "fp16", "fp16", (), bias=True)
    assert gpu.kernel_time_s(big) > 3 * r.floor_s and gpu.op_cost(big).detail["bound"] == "memory"


def test_attention_score_and_context_are_priced_as_different_kernels():
    # decode, GPT-2 small shapes: Q K^T spreads the 1024-long KV over many output tiles, P V
    # reduces over it with one tile per head (no split-K in batched torch.matmul)
    _, gpu = t4()
    args = (0, 1, 12, 12, 1, 1024, 64, "fp16", "fp16", ())
    score = attention(0, "s", OpKind.ATTENTION_SCORE, *args)
    ctx = attention(1, "c", OpKind.ATTENTION_CONTEXT, *args)
    assert score.bytes_read + score.bytes_written == pytest.approx(
        ctx.bytes_read + ctx.bytes_written, rel=0.01)
    ps, pc = gpu.gemm_plan(score), gpu.gemm_plan(ctx)
    assert ps.ctas > pc.ctas == 12
    assert gpu.kernel_time_s(ctx) > 1.3 * gpu.kernel_time_s(score)
    # with FlashDecoding's split over the KV length the context kernel fills the GPU too
    hw = load_hardware({"name": "t4_fd", "devices": {"gpu0": {
        "extends": "t4", "kernels": {"sm_count": 40, "l2_cache": "4 MB", "source": "test",
                                     "gemm_tiles": ["64x64"], "split_kv_attention": True}}}})
    fd = System(hw).devices["gpu0"]
    assert fd.gemm_plan(ctx).split_k > 1
    assert fd.kernel_time_s(ctx) < gpu.kernel_time_s(ctx)


def test_eager_host_time_is_reported_apart_from_the_kernel():
    # the device says how long its host takes per op; the engine, not the op's duration,
    # decides when the GPU waits for it (tests/test_host_runahead.py)
    _, graphs = t4()
    _, eager = t4("eager")
    assert (eager.dispatch_ps(), graphs.dispatch_ps()) == (35_000_000, 0)
    small = elementwise(0, "add", OpKind.ELEMENTWISE, 0, 1, 768, "add", "fp16", (), inputs=2)
    assert eager.op_cost(small) == graphs.op_cost(small)
    assert eager.op_cost(small).duration_ps < 10_000_000
    assert eager.op_cost(small).detail["bound"] == "floor"
    big = matmul(1, "ffn", 0, 2048, 3072, 768, "fp16", "fp16", (), bias=True)
    assert eager.op_cost(big).duration_ps == graphs.op_cost(big).duration_ps > 35_000_000


def test_eager_decode_of_a_small_model_is_host_bound_end_to_end():
    w = load_workload(ROOT / "workloads/pim_gpt/gpt2_small.yaml", ["generate_tokens=4"])
    step = generate_trace(w).decode_steps[-1].ops
    eager = run(ROOT / "hw_configs/gpu_t4_eager.yaml", w).decode_ps[-1] * 1e-12
    graphs = run(ROOT / "hw_configs/gpu_t4.yaml", w).decode_ps[-1] * 1e-12
    _, gpu = t4()
    kernels = [gpu.op_cost(op).duration_ps * 1e-12 for op in step]
    assert graphs == pytest.approx(sum(kernels), rel=1e-9)
    # every kernel of a GPT-2 decode step but the 77 MB LM head is shorter than 35 us: the
    # GPU waits for the host on all of them up to the LM head, the one-but-last op, issued
    # after (n - 1) dispatches; the host issues the last op (sampling) while the LM head runs,
    # so it follows the LM head at once
    long = [k for k in kernels if k > 35e-6]
    assert len(long) == 1 and long[0] == max(kernels) == kernels[-2] > 35e-6 + kernels[-1]
    assert eager == pytest.approx((len(step) - 1) * 35e-6 + long[0] + kernels[-1], rel=1e-9)
    assert eager > 2.5 * graphs


@pytest.mark.parametrize("software, message", [
    ({"stack": "eager"}, "needs the host's per-op dispatch cost"),
    ({"stack": "cuda_graphs", "dispatch": "5 us"}, "remove 'dispatch'"),
    ({"stack": "eager", "dispatch": "5 us"}, "where the eager dispatch cost was measured"),
    ({"stack": "lazy"}, "expected one of 'eager', 'cuda_graphs'"),
])
def test_software_stack_errors_are_one_located_line(tmp_path, capsys, software, message):
    import yaml
    f = tmp_path / "hw.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "devices": {"gpu0": {"extends": "t4",
                                                                   "software": software}}}))
    assert archsim_main(["run", str(f), str(ROOT / "workloads/gpt2_small.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert err.startswith(f"archsim: error: {f}:") and "devices.gpu0.software" in err


def test_tile_shapes_are_validated(tmp_path, capsys):
    import yaml
    f = tmp_path / "hw.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "devices": {"gpu0": {"extends": "t4", "kernels": {
        "sm_count": 40, "l2_cache": "4 MB", "gemm_tiles": ["128by64"], "source": "s"}}}}))
    assert archsim_main(["run", str(f), str(ROOT / "workloads/gpt2_small.yaml")]) == 2
    assert "expected 'MxN'" in capsys.readouterr().err


def test_ceil_waves_formula_matches_the_guide_example():
    # NVIDIA's GEMM guide (sec. 3.2): on a 108-SM A100, 256 x 128 tiles, a GEMM with 109 tiles
    # runs in two waves, the second with one tile
    model = km(sm_count=108, gemm_tiles=("256x128",))
    p = plan(256, 128 * 109, 4096, model)
    assert p.ctas == 109 and p.waves == math.ceil(109 / 108) == 2


def test_a_matmul_without_its_shape_is_an_error_not_a_plain_roofline():
    from archsim.errors import TraceError
    from archsim.trace.schema import Op
    _, gpu = t4()
    op = Op(0, "L0.mystery", OpKind.GEMM, 0, {"rows": 2}, "fp16", 10, 10, 10)
    with pytest.raises(TraceError, match="'L0.mystery'.*needs m, n, k"):
        gpu.op_cost(op)
