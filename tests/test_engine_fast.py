"""The compiled engine path (step plans + numba kernel) equals the Python scheduler and the SimPy
oracle exactly, on random multi-device multi-step DAGs and on the shipped design points."""
import dataclasses
import random

import pytest

from archsim import Simulator
from archsim.engine.events import simulate_events
from archsim.engine.fast import FastScheduler
from archsim.trace.schema import OpKind

from engine_helpers import op, trace
from test_scheduler import random_steps, random_system

T = OpKind.TRANSFER


def _result(res) -> dict:
    d = res.to_dict()
    d["run"].pop("simulator_wall_s", None)
    return d


def _repeat_with_new_objects(rng, steps, n_steps):
    """Decode-like steps: the first step's ops reused, some replaced each step by new objects
    of the same structure and a new cost and size (like attention ops)."""
    base = steps[0]
    out = [base]
    for _ in range(n_steps - 1):
        ops = list(out[-1])
        for i in rng.sample(range(len(ops)), k=len(ops) // 4):
            o = ops[i]
            if o.kind is OpKind.COLLECTIVE:
                continue
            ops[i] = dataclasses.replace(o, flops=rng.randrange(0, 5000),
                                         bytes_written=rng.randrange(0, 4000))
        out.append(ops)
    return out


def _with_transfers(rng, ops):
    """Turn some ops into transfer ops (no device time, no queue)."""
    return [dataclasses.replace(o, kind=T) if o.kind is not OpKind.COLLECTIVE and o.deps
            and rng.random() < 0.15 else o for o in ops]


def _check(h, steps_ops, barriers):
    t = trace(*steps_ops, barriers=barriers)
    slow = Simulator(h, fast=False)
    fast = Simulator(h)
    assert _result(fast.run(t)) == _result(slow.run(t))
    # the Python twin of the kernel, step by step, against the SimPy oracle
    places = [slow.mapper.map_step(s) for s in t.steps]
    costs = [[slow.cost(d, o) for d, o in zip(p, s.ops)] for p, s in zip(places, t.steps)]
    spans, _, _ = simulate_events(t.steps, places, costs, slow.system)
    lookback = max((b for s in t.steps for o in s.ops for b, _ in o.prior), default=0)
    fs = FastScheduler(Simulator(h), lookback, max(len(s.ops) for s in t.steps), compiled=False)
    assert [fs.step(s.ops, s.barrier) for s in t.steps] == spans
    return fs


@pytest.mark.parametrize("seed", range(12))
def test_fast_path_equals_python_and_simpy_on_random_dags(seed):
    rng = random.Random(seed)
    devs, h = random_system(rng)
    steps = random_steps(rng, devs, n_steps=5, n_ops=25)
    steps = [_with_transfers(rng, s) for s in steps]
    _check(h, steps, [rng.random() < 0.4 for _ in steps])


@pytest.mark.parametrize("seed", range(12))
def test_reused_plans_equal_python_and_simpy(seed):
    # steps sharing op objects, with some replaced per step: the plan is reused
    rng = random.Random(100 + seed)
    devs, h = random_system(rng)
    first = random_steps(rng, devs, n_steps=4, n_ops=30)
    # a prefill-like step, then decode-like steps whose prior deps reach back up to 3 steps
    steps = first[:3] + _repeat_with_new_objects(rng, [_with_transfers(rng, first[3])], 9)
    barriers = [rng.random() < 0.5 for _ in steps]
    fs = _check(h, steps, barriers)
    assert fs.plan_count < len(steps) - 3     # structure repeats: plans are reused


def test_plan_recompiled_when_a_route_changes_with_size():
    # a -> b: small messages go a->c->b (2 x 1 ns), large ones the 50 ns latency-only link
    from engine_helpers import hw
    h = hw(["a", "b", "c"], links=[{"src": "a", "dst": "b", "latency": "50 ns"},
                                   {"src": "a", "dst": "c", "bandwidth": "100 GB/s",
                                    "latency": "1 ns"},
                                   {"src": "c", "dst": "b", "bandwidth": "100 GB/s",
                                    "latency": "1 ns"}])
    consumer = op(1, 10, [0], devices=["b"], name="use")
    steps = [[op(0, 10, devices=["a"], out_bytes=nb, name="make"), consumer]
             for nb in (100, 100, 10_000, 10_000, 100)]
    fs = _check(h, steps, [True] * len(steps))
    assert fs.plan_count == 3


def test_design_points_equal_with_and_without_the_fast_path():
    from archsim.api import prepare
    from archsim.hardware import load_hardware
    from archsim.workload import load_workload
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    cases = [("pim_gpt", "gpt2_xl", ["generate_tokens=24"]),
             ("lamina_h100_h20", "llama3_70b", ["batch_size=64", "generate_tokens=5"]),
             ("attacc_dgx_hbm_pim", "gpt3_175b", ["generate_tokens=4"]),
             ("dgx_h100_tp8", "llama2_7b", ["generate_tokens=6"]),
             ("gpu_a100_80gb", "llama2_7b", ["generate_tokens=6"])]
    for hw_name, wl, over in cases:
        hw = load_hardware(root / "hw_configs" / f"{hw_name}.yaml")
        t, _ = prepare(hw, load_workload(root / "workloads" / f"{wl}.yaml", over))
        assert _result(Simulator(hw).run(t)) == _result(Simulator(hw, fast=False).run(t)), \
            hw_name


def test_tally_sums_whole_counts_exactly_and_fractions_in_order():
    from archsim.devices.base import OpCost
    from archsim.engine.simulator import _tally

    a, b = op(0, 1), op(1, 1, kind=OpKind.SOFTMAX)
    for vals in ([3, 5.0, 7], [0.1, 0.2, 0.3], [2 ** 52, 2 ** 52, 1], [2 ** 60 + 1, 3, 0.5]):
        ca, cb, cc = (OpCost(10, {"x": v, "y": 1}) for v in vals)
        occ = {("d0", 1): [a, ca, 3], ("d0", 2): [b, cb, 1], (("d0", "d1"), 3): [a, cc, 7],
               ("d1", 4): [a, ca, 2], ("d0", 5): [a, ca, 5]}
        rows = [(w, o.kind.value, c, n) for (w, _), (o, c, n) in occ.items()]
        want_t, want_n, want_a = {}, {}, {}
        for w, kv, c, n in rows:
            for dev in (w if type(w) is tuple else (w,)):
                want_t[(dev, kv)] = want_t.get((dev, kv), 0) + c.duration_ps * n
                want_n[(dev, kv)] = want_n.get((dev, kv), 0) + n
                for act, v in c.actions.items():
                    want_a.setdefault((dev, kv, act), [])
                    want_a[(dev, kv, act)].append((v, n))
        for k, parts in want_a.items():
            if all(float(v).is_integer() for v, _ in parts):      # exact, rounded once
                want_a[k] = float(sum(int(v) * n for v, n in parts))
            else:                                                  # floats, in order
                f = 0.0
                for v, n in parts:
                    f += v * n
                want_a[k] = f
        t, c, acts = _tally(occ)
        assert list(t.items()) == list(want_t.items())
        assert list(c.items()) == list(want_n.items())
        assert list(acts.items()) == list(want_a.items())
        assert all(type(x) is float for x in acts.values())
    # the sum of whole counts does not depend on the order of the occurrences
    big = [OpCost(1, {"x": v}) for v in (2 ** 53 + 1, 1, 3, 2 ** 54 - 1, 1)]
    occ = {("d0", i): [a, c, 1] for i, c in enumerate(big)}
    rev = {("d0", i): [a, c, 1] for i, c in reversed(list(enumerate(big)))}
    assert _tally(occ)[2] == _tally(rev)[2] == {("d0", a.kind.value, "x"): float(sum(
        int(c.actions["x"]) for c in big))}


def test_fractional_action_counts_fall_back_to_per_op_counting(monkeypatch):
    # merged counting meets a fractional action count: the run starts again per op and equals
    # the Python path (float sums in order of the (device, op) entries)
    from archsim.devices.base import OpCost
    from archsim.engine import fast as fast_mod
    rng = random.Random(7)
    devs, h = random_system(rng)
    first = random_steps(rng, devs, n_steps=2, n_ops=20)
    steps = first[:1] + _repeat_with_new_objects(rng, [first[1]], 6)
    t = trace(*steps)
    real = Simulator.cost
    calls = []

    def cost(self, where, o):
        c = real(self, where, o)
        if type(where) is tuple or o.kind is T:
            return c
        acts = dict(c.actions)
        acts["flop"] = acts.get("flop", 0) + (o.flops % 7) / 3 + 1e-3
        return OpCost(c.duration_ps, acts)

    monkeypatch.setattr(Simulator, "cost", cost)
    monkeypatch.setattr(Simulator, "costs", lambda self, ws, os_: [cost(self, w, o)
                                                                   for w, o in zip(ws, os_)])
    orig = fast_mod.FastScheduler.__init__

    def init(self, *a, **k):
        calls.append(k.get("merge"))
        orig(self, *a, **k)

    monkeypatch.setattr(fast_mod.FastScheduler, "__init__", init)
    assert _result(Simulator(h).run(t)) == _result(Simulator(h, fast=False).run(t))
    assert calls == [True, False]
