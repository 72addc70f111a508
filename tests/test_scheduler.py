"""The scheduler keeps state across steps: overlapping steps, cross-step dependencies,
collectives, switches; always equal to the SimPy reference."""
import random

import pytest

from archsim import OpKind, Simulator
from archsim.engine.events import simulate_events
from archsim.engine.scheduler import Scheduler
from archsim.errors import SimulationError

from engine_helpers import hw, op, trace

C = OpKind.COLLECTIVE


def schedule_both(h, steps_ops, barriers, waits=None):
    """Schedule with the one-pass scheduler and with SimPy; return both outcomes (``waits``, a
    list if given, receives both schedules' host waits per device)."""
    t = trace(*steps_ops, barriers=barriers)
    sim = Simulator(h)
    places = [sim.mapper.map_step(s) for s in t.steps]
    costs = [[sim.cost(d, o) for d, o in zip(p, s.ops)] for p, s in zip(places, t.steps)]
    lookback = max((b for s in t.steps for o in s.ops for b, _ in o.prior), default=0)
    sched = Scheduler(sim.system, lookback)
    fast = [sched.step(s.ops, p, c, barrier=s.barrier) for s, p, c in zip(t.steps, places, costs)]
    ref_wait: dict = {}
    ref = simulate_events(t.steps, places, costs, sim.system, host_wait=ref_wait)
    if waits is not None:
        waits.extend([sched.host_wait, ref_wait])
    return fast, ref


def assert_equal(fast, ref):
    spans, recs, transfers = ref
    assert [(f.start_ps, f.end_ps) for f in fast] == spans
    assert [[(r.device, r.start_ps, r.end_ps) for r in f.records] for f in fast] == \
        [[(r.device, r.start_ps, r.end_ps) for r in rs] for rs in recs]
    key = lambda t: (t.start_ps, t.end_ps, t.link.name, t.nbytes, t.op_name)  # noqa: E731
    assert sorted(key(t) for f in fast for t in f.transfers) == sorted(map(key, transfers))


def random_system(rng, hosted=False):
    """Four devices behind a switch; ``hosted``: d0 and d1 (sometimes d3) have a host stack with
    a random dispatch time per op, about as long as the random ops."""
    devs = ["d0", "d1", "d2", "d3"]
    links = [{"src": "d0", "dst": "sw", "bandwidth": "1 GB/s", "latency": "3 ns"},
             {"src": "d1", "dst": "sw", "bandwidth": "2 GB/s", "latency": "1 ns"},
             {"src": "d2", "dst": "sw", "bandwidth": "1 GB/s"},
             {"src": "d3", "dst": "sw", "bandwidth": "4 GB/s", "latency": "2 ns"},
             {"src": "d0", "dst": "d1", "bandwidth": "0.5 GB/s", "bidirectional": False},
             {"src": "d2", "dst": "d3", "latency": "7 ns"}]
    hosts = {"d3": "d2"} if rng.random() < 0.5 else None
    dispatch = None
    if hosted:
        dispatch = {"d0": rng.randrange(1, 4000), "d1": rng.randrange(1, 4000)}
        if rng.random() < 0.5:
            dispatch["d3"] = rng.randrange(1, 4000)
    return devs, hw(devs, links=links, hosts=hosts, switches=["sw"], dispatch=dispatch)


def random_steps(rng, devs, n_steps, n_ops):
    steps = []
    for s in range(n_steps):
        ops = []
        for i in range(n_ops):
            deps = rng.sample(range(i), k=min(i, rng.randrange(0, 3)))
            prior = []
            for _ in range(rng.randrange(0, 3) if s else 0):
                back = rng.randrange(1, min(s, 3) + 1)
                prior.append((back, rng.randrange(len(steps[-back]))))
            if i and rng.random() < 0.1:
                members = rng.sample(devs, k=rng.randrange(2, 5))
                ops.append(op(i, 0, deps, out_bytes=rng.randrange(2, 8000, 2), kind=C,
                              devices=members, prior=prior,
                              collective=rng.choice(["all_reduce", "all_gather",
                                                     "reduce_scatter"])))
            else:
                ops.append(op(i, rng.randrange(0, 5000), deps, out_bytes=rng.randrange(0, 4000),
                              devices=[rng.choice(devs)], prior=prior))
        steps.append(ops)
    return steps


@pytest.mark.parametrize("seed", range(16))
def test_one_pass_scheduler_equals_simpy_on_random_multi_step_dags(seed):
    rng = random.Random(seed)
    devs, h = random_system(rng)
    steps = random_steps(rng, devs, n_steps=5, n_ops=25)
    barriers = [rng.random() < 0.4 for _ in steps]
    fast, ref = schedule_both(h, steps, barriers)
    assert_equal(fast, ref)


def test_without_a_barrier_the_next_step_overlaps_the_previous_one():
    # two micro-batches: step 0 and step 1 are independent, each a dense op on d0 then an
    # attention-like op on d1; step 1's dense op runs on d0 while step 0's runs on d1
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "latency": "1 ns"}])
    mb = [op(0, 100_000, devices=["d0"], name="dense"),
          op(1, 100_000, [0], devices=["d1"], name="attn")]
    serial = Simulator(h).run(trace(mb, mb, barriers=[True, True]))
    overlap = Simulator(h).run(trace(mb, mb, barriers=[True, False]))
    assert serial.latency_s == pytest.approx(2 * 201_000e-12)
    assert overlap.latency_s == pytest.approx(301_000e-12)   # below the serial sum ...
    busiest = 200_000e-12                                      # ... never below one device's work
    assert busiest <= overlap.latency_s < serial.latency_s


def test_cross_step_dependency_waits_and_moves_data():
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}])
    s0 = [op(0, 1000, devices=["d0"], out_bytes=1000, name="produce")]
    s1 = [op(0, 10, devices=["d1"], name="early"),
          op(1, 10, devices=["d1"], prior=[(1, 0)], name="consume")]
    fast, ref = schedule_both(h, [s0, s1], [True, False])
    assert_equal(fast, ref)
    early, consume = fast[1].records
    assert (early.start_ps, early.end_ps) == (0, 10)      # no barrier: starts at once
    assert consume.start_ps == 1000 + 1_000_000           # produced, then moved over 1 GB/s


def test_collective_synchronises_its_members_and_is_priced_by_the_ring():
    # 4 members on a switch, 1 GB/s per link, 2 ns per link: all-reduce of 4000 bytes is
    # 2(n-1) = 6 rounds of a 1000-byte chunk: per round alpha = 2 hops x 2 ns, beta = 1 us
    links = [{"src": d, "dst": "sw", "bandwidth": "1 GB/s", "latency": "2 ns"}
             for d in ("d0", "d1", "d2", "d3")]
    h = hw(["d0", "d1", "d2", "d3"], links=links, switches=["sw"])
    ops = [op(0, 5_000, devices=["d0"]), op(1, 9_000, devices=["d1"]),
           op(2, 0, [0, 1], kind=C, devices=["d0", "d1", "d2", "d3"], out_bytes=4000,
              collective="all_reduce", name="ar"),
           op(3, 7, [2], devices=["d2"], name="after")]
    fast, ref = schedule_both(h, [ops], [True])
    assert_equal(fast, ref)
    ar = fast[0].records[2]
    assert ar.start_ps == 9_000                            # waits for the slowest member's input
    assert ar.end_ps - ar.start_ps == 6 * (4_000 + 1_000_000)
    assert fast[0].records[3].start_ps == ar.end_ps        # output already on every member
    moved = {t.link.name: t.nbytes for t in fast[0].transfers}
    assert moved["d0->sw"] == 6 * 1000 and moved["sw->d1"] == 6 * 1000
    res = Simulator(h).run(trace(ops))
    assert res.link_stats["d0->sw"][0] == 6000              # counted once, on the links


def test_collective_needs_members_and_a_known_algorithm():
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}])
    with pytest.raises(SimulationError, match="at least two"):
        Simulator(h).run(trace([op(0, 0, kind=C, devices=["d0"], out_bytes=8,
                                   collective="all_reduce")]))
    with pytest.raises(SimulationError, match="attrs.collective"):
        Simulator(h).run(trace([op(0, 0, kind=C, devices=["d0", "d1"], out_bytes=8,
                                   collective="all_to_all")]))


def test_routes_follow_real_latency_and_size():
    # a latency-only link is no longer free for routing: 50 ns direct loses to 2 x 1 ns + data
    # for small messages, and a slow direct link wins no large transfer
    h = hw(["a", "b", "c"], links=[{"src": "a", "dst": "b", "latency": "50 ns"},
                                   {"src": "a", "dst": "c", "bandwidth": "100 GB/s",
                                    "latency": "1 ns"},
                                   {"src": "c", "dst": "b", "bandwidth": "100 GB/s",
                                    "latency": "1 ns"}])
    system = Simulator(h).system
    assert [ln.name for ln in system.route("a", "b", 100)] == ["a->c", "c->b"]
    # 10 kB over 2 x 100 GB/s hops = 200 ns + 2 ns > 50 ns latency-only
    assert [ln.name for ln in system.route("a", "b", 10_000)] == ["a->b"]


def test_switch_forwards_between_devices():
    h = hw(["a", "b"], switches=["sw"],
           links=[{"src": "a", "dst": "sw", "bandwidth": "1 GB/s"},
                  {"src": "sw", "dst": "b", "bandwidth": "1 GB/s"}],
           rules=[{"device": "b", "names": ["y"]}])
    res = Simulator(h, record_timeline=True).run(
        trace([op(0, 0, out_bytes=1000, name="x"), op(1, 0, [0], name="y")]))
    _, _, _, recs, transfers = res.timeline[0]
    assert [t.link.name for t in transfers] == ["a->sw", "sw->b"]
    assert recs[1].start_ps == 2_000_000


def test_a_collective_shows_on_every_member_track_of_the_timeline():
    from archsim.engine.timeline import chrome_trace
    h = hw(["d0", "d1"], links=[{"src": "d0", "dst": "d1", "bandwidth": "1 GB/s"}])
    res = Simulator(h, record_timeline=True).run(trace([
        op(0, 10, devices=["d0"]), op(1, 0, [0], kind=C, devices=["d0", "d1"], out_bytes=100,
                                      collective="all_reduce", name="ar")]))
    doc = chrome_trace(res)
    pids = {e["args"]["name"]: e["pid"] for e in doc["traceEvents"] if e["ph"] == "M"}
    ar = [e for e in doc["traceEvents"] if e.get("name") == "ar" and e.get("cat") == "collective"]
    assert sorted(e["pid"] for e in ar) == sorted([pids["d0"], pids["d1"]])


def test_tree_all_reduce_and_launch_latency_by_hand():
    # 4 members on a switch (1 GB/s, 2 ns per link); tree: parents 0 <- 1, 2; 1 <- 3.
    # depth ceil(log2 4) = 2: 2 x 2 hops x 2 ns of latency; the busiest link direction
    # (sw -> d0 or d1 -> sw ...) carries the buffer twice: 2 x 4000 B at 1 GB/s = 8 us
    links = [{"src": d, "dst": "sw", "bandwidth": "1 GB/s", "latency": "2 ns"}
             for d in ("d0", "d1", "d2", "d3")]
    h = hw(["d0", "d1", "d2", "d3"], links=links, switches=["sw"])
    import dataclasses
    h = dataclasses.replace(h, collective=dataclasses.replace(
        h.collective, algorithm="tree", launch_latency_s=5e-6))
    ops = [op(0, 0, kind=C, devices=["d0", "d1", "d2", "d3"], out_bytes=4000,
              collective="all_reduce", name="ar")]
    fast, ref = schedule_both(h, [ops], [True])
    assert_equal(fast, ref)
    ar = fast[0].records[0]
    assert ar.end_ps - ar.start_ps == 5_000_000 + 2 * 2 * 4_000 + 8_000_000
    ring = dataclasses.replace(h, collective=dataclasses.replace(h.collective, algorithm="ring"))
    fast_ring, _ = schedule_both(ring, [ops], [True])
    assert fast_ring[0].records[0].end_ps == 5_000_000 + 6 * (4_000 + 1_000_000)
