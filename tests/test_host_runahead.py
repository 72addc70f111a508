"""An eager host runs ahead of its GPU: it issues ops in program order, one dispatch each, and
the GPU starts an op no earlier than its issue ends; at a step barrier (the sampled token read
back) the host waits. The Python scheduler, the SimPy oracle and the compiled fast path agree
exactly, and the per-op ``max(dispatch, kernel)`` of the old model over-estimates."""
import random

import pytest

from pathlib import Path

from archsim import OpKind, Simulator, generate_trace, load_hardware, load_workload
from archsim.compare import components
from archsim.engine.timeline import chrome_trace

from engine_helpers import hw, op, trace
from test_engine_fast import _check
from test_scheduler import assert_equal, random_steps, random_system, schedule_both

ROOT = Path(__file__).resolve().parents[1]
D = 35        # host time per op, ps (test devices: an op of ``flops`` F lasts F ps)


def one_gpu(dispatch=D):
    return hw(["gpu"], dispatch={"gpu": dispatch} if dispatch else None)


def run(h, *steps_ops, barriers=None):
    """Schedule with the Python scheduler; returns per step ``[(start, end)]`` of its ops and the
    host waits, after checking the SimPy oracle and the fast path say the same."""
    waits: list = []
    fast, ref = schedule_both(h, steps_ops, barriers or [True] * len(steps_ops), waits)
    assert_equal(fast, ref)
    assert waits[0] == waits[1]
    assert [[r.host_wait_ps for r in s.records] for s in fast] == \
        [[r.host_wait_ps for r in rs] for rs in ref[1]]
    fs = _check(h, steps_ops, barriers or [True] * len(steps_ops))
    assert fs.host_waits() == waits[0]
    return [[(r.start_ps, r.end_ps) for r in s.records] for s in fast], waits[0]


def test_host_runs_ahead_during_long_kernels_and_feeds_short_ones_back_to_back():
    # issues end at 35, 70, 105, 140, 175: the three short kernels were issued while the first
    # long one ran, so they follow it without a gap; the last waits for its issue (25 ps)
    ops = [op(i, ps) for i, ps in enumerate([100, 5, 5, 5, 100])]
    (timeline,), waits = run(one_gpu(), ops)
    assert timeline == [(35, 135), (135, 140), (140, 145), (145, 150), (175, 275)]
    assert waits == {"gpu": 35 + 25}
    # the timeline says which kernels started late because of the host, and by how much
    res = Simulator(one_gpu(), record_timeline=True).run(trace(ops))
    late = [e["args"].get("host_wait_us") for e in chrome_trace(res)["traceEvents"]
            if e.get("cat") == "elementwise"]
    assert late == [35e-6, None, None, None, 25e-6]
    assert res.breakdown()["host_wait_s"] == {"gpu": 60e-12}
    old_per_op_max = sum(max(D, ps) for ps in [100, 5, 5, 5, 100])
    assert old_per_op_max == 305 > timeline[-1][1]   # the old model: 30 ps (11%) too slow


def test_host_bound_ops_follow_the_dispatch():
    ops = [op(i, 10, [i - 1] if i else ()) for i in range(4)]
    (timeline,), waits = run(one_gpu(), ops)
    assert timeline == [(35, 45), (70, 80), (105, 115), (140, 150)]
    assert waits == {"gpu": 35 + 3 * 25}


def test_device_bound_ops_wait_for_the_first_issue_only():
    ops = [op(i, 100) for i in range(3)]
    (timeline,), waits = run(one_gpu(), ops)
    assert timeline == [(35, 135), (135, 235), (235, 335)]
    assert waits == {"gpu": 35}


def test_the_host_waits_for_the_token_read_back_at_a_barrier():
    steps = [[op(0, 10), op(1, 10)], [op(0, 10), op(1, 10)]]
    # step 1 has a barrier at 80 (the read-back): its first issue ends at 80 + 35
    (s0, s1), waits = run(one_gpu(), *steps, barriers=[True, True])
    assert s0 == [(35, 45), (70, 80)]
    assert s1 == [(115, 125), (150, 160)]
    assert waits == {"gpu": 35 + 25 + 35 + 25}
    # without a barrier the host does not wait: it issued step 1's ops at 105 and 140
    (s0, s1), _ = run(one_gpu(), *steps, barriers=[True, False])
    assert s1 == [(105, 115), (140, 150)]


def test_without_a_host_stack_nothing_changes_and_no_wait_is_reported():
    ops = [op(i, ps) for i, ps in enumerate([100, 5, 5])]
    (timeline,), waits = run(one_gpu(dispatch=0), ops)
    assert timeline == [(0, 100), (100, 105), (105, 110)]
    assert waits == {}
    res = Simulator(one_gpu(dispatch=0)).run(trace(ops))
    assert "host_wait_s" not in res.breakdown()


def test_a_collective_waits_for_every_members_host():
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}],
           dispatch={"d0": 50})
    ops = [op(0, 10, devices=["d1"]),
           op(1, 0, [0], out_bytes=8, kind=OpKind.COLLECTIVE, devices=["d0", "d1"],
              collective="all_reduce")]
    (timeline,), waits = run(h, ops)
    # the all-reduce's input is ready at 10, but d0's host issues it only at 50: d0 waited 40 ps
    assert timeline[1][0] == 50
    assert waits == {"d0": 40}


@pytest.mark.parametrize("seed", range(10))
def test_three_engines_agree_with_hosts_on_random_multi_step_dags(seed):
    rng = random.Random(500 + seed)
    devs, h = random_system(rng, hosted=True)
    steps = random_steps(rng, devs, n_steps=4, n_ops=20)
    barriers = [rng.random() < 0.5 for _ in steps]
    _, waits = run(h, *steps, barriers=barriers)
    assert waits.keys() >= {"d0", "d1"} and sum(waits.values()) > 0


def test_eager_t4_decode_step_lies_between_the_bounds_and_below_the_per_op_max():
    # GPT-3 XL's decode step on the eager T4 mixes GEMVs longer than the 35 us dispatch with
    # short norms and adds: the host runs ahead during the GEMVs
    h = load_hardware(ROOT / "hw_configs" / "gpu_t4_eager.yaml")
    w = load_workload(ROOT / "workloads" / "pim_gpt" / "gpt3_xl.yaml")
    t = generate_trace(w)
    sim = Simulator(h)
    (gpu,) = sim.system.devices.values()
    step = t.decode_steps[-1]
    d = gpu.dispatch_ps()
    busy = [gpu.op_cost(o).duration_ps for o in step.ops]
    assert d == 35_000_000
    per_op_max = sum(max(d, b) for b in busy)
    lower = max(d * len(busy), sum(busy))
    res = sim.run(t)
    last = int(res.step_ps[-1])
    assert lower <= last < 0.9 * per_op_max
    # one GPU and a barrier per step: it is always either busy or waiting for its host
    (wait,) = res.host_wait_ps.values()
    assert int(res.step_ps.sum()) == sum(res.time_by_kind.values()) + wait
    assert wait > 0
    assert components(res)["host_wait_ms_per_token"]["gpu0"] == \
        pytest.approx(wait * 1e-9 / res.tokens)
