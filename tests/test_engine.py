"""Engine semantics: dependencies, overlap across devices, transfers, link contention."""
import pytest

from archsim import Simulator, load_hardware
from archsim.engine.events import simulate_events
from archsim.engine.scheduler import Scheduler
from archsim.errors import SimulationError
from archsim.trace.schema import Phase, Step, Trace

from engine_helpers import hw, op


def one_step(ops):
    return Trace((Step(0, Phase.DECODE, 1, 1, 1, tuple(ops)),), {})


def run_records(h, ops):
    sim = Simulator(h, record_timeline=True)
    res = sim.run(one_step(ops))
    _, _, _, recs, transfers = res.timeline[0]
    return res, {r.op.name: (r.start_ps, r.end_ps, r.device) for r in recs}, transfers


def test_dependent_ops_on_one_device_run_back_to_back():
    res, recs, _ = run_records(hw(["d0"]), [op(0, 5), op(1, 7, [0]), op(2, 3, [1])])
    assert recs == {"op0": (0, 5, "d0"), "op1": (5, 12, "d0"), "op2": (12, 15, "d0")}
    assert int(res.step_ps[0]) == 15


def test_ops_on_different_devices_overlap():
    h = hw(["d0", "d1"], rules=[{"device": "d1", "names": ["b*"]}])
    ops = [op(0, 100, name="a"), op(1, 60, name="b"), op(2, 10, [0, 1], name="c")]
    h2 = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}],
            rules=[{"device": "d1", "names": ["b*"]}])
    res, recs, transfers = run_records(h2, ops)
    assert recs["a"] == (0, 100, "d0") and recs["b"] == (0, 60, "d1")   # in parallel
    assert recs["c"] == (100, 110, "d0")       # b's output is 0 bytes: the transfer takes 0 ps
    assert len(transfers) == 1 and transfers[0].nbytes == 0
    with pytest.raises(SimulationError, match="no link connects"):
        Simulator(h).run(one_step(ops))


def test_cross_device_dependency_waits_for_the_transfer():
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s",
                                  "latency": "2 ns", "energy_per_bit": "1 pJ/bit"}],
           rules=[{"device": "d1", "names": ["b"]}])
    res, recs, transfers = run_records(h, [op(0, 10, out_bytes=1000, name="a"),
                                           op(1, 5, [0], name="b")])
    # 1000 bytes at 1 GB/s = 1000 ns, plus 2 ns latency
    assert transfers[0].start_ps == 10 and transfers[0].end_ps == 10 + 1_002_000
    assert recs["b"] == (1_002_010, 1_002_015, "d1")
    assert res.breakdown()["links"]["d0->d1"]["energy_j"] == pytest.approx(8000e-12)


def test_transfers_contend_for_a_link():
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}],
           rules=[{"device": "d1", "names": ["b*"]}])
    ops = [op(0, 1, out_bytes=1000, name="a1"), op(1, 1, out_bytes=1000, name="a2"),
           op(2, 1, [0], name="b1"), op(3, 1, [1], name="b2")]
    res, recs, transfers = run_records(h, ops)
    assert [(t.start_ps, t.end_ps) for t in transfers] == [(1, 1_000_001), (1_000_001, 2_000_001)]
    assert recs["b2"] == (2_000_001, 2_000_002, "d1")
    assert int(res.step_ps[0]) == 2_000_002


def test_multi_hop_route_is_store_and_forward():
    h = hw(["d0", "d1", "d2"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"},
                                      {"src": "d1", "dst": "d2", "bandwidth": "2 GB/s"}],
           rules=[{"device": "d2", "names": ["b"]}])
    res, recs, transfers = run_records(h, [op(0, 0, out_bytes=1000, name="a"),
                                           op(1, 0, [0], name="b")])
    assert [t.link.name for t in transfers] == ["d0->d1", "d1->d2"]
    assert recs["b"][0] == 1_000_000 + 500_000


def test_single_device_fast_path_equals_event_simulation(a100, gpt2_small):
    from archsim import generate_trace, load_workload
    h = load_hardware(a100)
    sim = Simulator(h)
    steps = generate_trace(load_workload(gpt2_small, ["generate_tokens=3"])).steps
    places = [sim.mapper.map_step(s) for s in steps]
    costs = [[sim.cost(d, o) for d, o in zip(p, s.ops)] for p, s in zip(places, steps)]
    sched = Scheduler(sim.system)
    fast = [sched.step(s.ops, p, c) for s, p, c in zip(steps, places, costs)]
    spans, recs, _ = simulate_events(steps, places, costs, sim.system)
    assert [(f.start_ps, f.end_ps) for f in fast] == spans
    assert [[(r.start_ps, r.end_ps) for r in f.records] for f in fast] == \
        [[(r.start_ps, r.end_ps) for r in rs] for rs in recs]


def _comparable(d):
    d = dict(d)
    d["run"] = {k: v for k, v in d["run"].items() if k != "simulator_wall_s"}
    return d


def test_memoized_run_equals_full_run_and_is_deterministic(a100, gpt2_small):
    from archsim import generate_trace, load_workload
    h = load_hardware(a100)
    t = generate_trace(load_workload(gpt2_small, ["generate_tokens=20"]))
    a = Simulator(h, memoize=True).run(t)
    b = Simulator(h, memoize=False).run(t)
    c = Simulator(h, memoize=True).run(t)
    assert (a.step_ps == b.step_ps).all()
    assert _comparable(a.to_dict()) == _comparable(b.to_dict()) == _comparable(c.to_dict())


def test_results_of_a_hosted_device_round_trip_through_the_host():
    # d0 (a PIM-like device) cannot feed its own ops: results go to host d1 and back
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "latency": "5 ns"}], hosts={"d0": "d1"})
    res, recs, transfers = run_records(h, [op(0, 10, out_bytes=4096, name="a"),
                                           op(1, 10, [0], name="b")])
    assert [t.link.name for t in transfers] == ["d0->d1", "d1->d0"]
    # latency-only link: 5 ns each way whatever the size
    assert recs["b"] == (10 + 10_000, 20 + 10_000, "d0")


@pytest.mark.parametrize("seed", range(12))
def test_one_pass_scheduler_equals_simpy_on_random_dags(seed):
    import random
    rng = random.Random(seed)
    devs = ["d0", "d1", "d2"]
    h = hw(devs, hosts={"d2": "d1"} if seed % 2 else None, links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s", "latency": "3 ns"},
                        {"src": "d1", "dst": "d2", "bandwidth": "2 GB/s"},
                        {"src": "d0", "dst": "d2", "bandwidth": "0.5 GB/s",
                         "bidirectional": False}])
    sim = Simulator(h)
    n = 60
    ops = [op(i, rng.randrange(0, 5000), rng.sample(range(i), k=min(i, rng.randrange(0, 4))),
              out_bytes=rng.randrange(0, 4000)) for i in range(n)]
    placement = [rng.choice(devs) for _ in range(n)]
    costs = [sim.cost(p, o) for p, o in zip(placement, ops)]
    fast = Scheduler(sim.system).step(ops, placement, costs)
    step = Step(0, Phase.DECODE, 1, 1, 1, tuple(ops))
    spans, recs, transfers = simulate_events([step], [placement], [costs], sim.system)
    assert (fast.start_ps, fast.end_ps) == spans[0]
    assert [(r.device, r.start_ps, r.end_ps) for r in fast.records] == \
        [(r.device, r.start_ps, r.end_ps) for r in recs[0]]
    key = lambda t: (t.start_ps, t.end_ps, t.link.name, t.op_name)  # noqa: E731
    assert sorted(map(key, fast.transfers)) == sorted(map(key, transfers))
