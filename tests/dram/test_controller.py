import numpy as np
import pytest

from archsim.dram import load_spec, simulate
from archsim.dram.checker import check_log
from archsim.dram.mapping import decode, encode

from .conftest import STANDARDS, random_traffic, stream_traffic


def _one(spec, r, g, b, row, col=0, ch=0):
    return int(encode(spec, ch, r, g, b, row, col))


@pytest.mark.parametrize("name", STANDARDS)
def test_unloaded_read_latency(name):
    """Arrival (queue entry) to first data beat: closed bank nRCD+nCL, hit nCL, conflict
    nRP+nRCD+nCL (the conflicting request arrives after tRAS of the open row)."""
    s = load_spec(name, refresh="none")
    t = s.timings
    addr = [_one(s, 0, 1, 2, 5), _one(s, 0, 1, 2, 5, col=3), _one(s, 0, 1, 2, 9)]
    arr = [100, 400, 700]
    res = simulate(s, addr, np.zeros(3, bool), arr)
    lat = res.read_latency_cycles.tolist()
    assert lat == [t["nRCD"] + t["nCL"], t["nCL"], t["nRP"] + t["nRCD"] + t["nCL"]]
    assert res.avg_read_latency_ns == pytest.approx(np.mean(lat) * s.tck_s * 1e9)


def test_mapping_roundtrip():
    s = load_spec("hbm3")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << 34, 1000) // 32 * 32
    f = decode(s, a)
    back = encode(s, f["channel"], f["rank"], f["bank_group"], f["bank"], f["row"], f["column"])
    assert np.array_equal(back, a)


# HBM3: the two pseudo-channels share one column command bus and each needs a RD every
# nBL = 2 cycles, so the bus is full and every slot the scheduler misses is lost (85-86 %)
@pytest.mark.parametrize("name,floor", [("hbm2", 0.90), ("hbm3", 0.80), ("gddr6", 0.90)])
def test_streaming_reads_reach_their_floor_of_peak(name, floor):
    s = load_spec(name)  # default bank-group-interleaved mapping, per-bank refresh
    a, w, _ = stream_traffic(s, 200_000)
    res = simulate(s, a, w)
    eff = res.bandwidth_bytes_per_s / s.peak_bandwidth_bytes_per_s
    assert eff >= floor, eff
    assert eff <= 1.0


def test_row_local_mapping_is_slower_on_a_bank_group_limited_standard():
    # HBM3 has nCCD_L = 2 x nCCD_S: a stream kept in one bank group cannot reach peak
    s = load_spec("hbm3", mapping="RoBaBgRaCoPcCh")
    a, w, _ = stream_traffic(s, 100_000)
    eff = simulate(s, a, w).bandwidth_bytes_per_s / s.peak_bandwidth_bytes_per_s
    s2 = load_spec("hbm3")
    eff2 = simulate(s2, a, w).bandwidth_bytes_per_s / s2.peak_bandwidth_bytes_per_s
    assert eff < 0.85 and eff < eff2 - 0.1


@pytest.mark.parametrize("refresh", ["all_bank", "per_bank"])
@pytest.mark.parametrize("name", STANDARDS)
def test_refresh_rate(name, refresh):
    s = load_spec(name, refresh=refresh)
    a, w, arr = random_traffic(s, 20_000, seed=2, gap=20)
    res = simulate(s, a, w, arr)
    t = s.timings
    if refresh == "all_bank":
        got = res.commands.get("REFab", 0)
        expect = res.cycles / t["nREFI"] * s.n_channels * s.org.ranks
    else:
        got = res.commands.get("REFpb", 0)
        interval = t.get("nREFIpb", t["nREFI"] // s.banks_per_rank)
        expect = res.cycles / interval * s.n_channels * s.org.ranks
    assert expect > 20
    assert abs(got - expect) <= 0.03 * expect + s.n_channels, (got, expect)


TRAFFIC = {
    "random": lambda s: random_traffic(s, 3000, seed=5, gap=3),
    "random_burst": lambda s: random_traffic(s, 3000, seed=6, gap=0, read_ratio=0.5),
    "stream": lambda s: stream_traffic(s, 3000),
    # adversarial: two rows of one bank, alternating, reads and writes interleaved
    "conflict": lambda s: (np.array([_one(s, 0, 0, 0, 1 + (i % 2), i % 8) for i in range(1500)]),
                           np.arange(1500) % 3 == 0, None),
}


@pytest.mark.parametrize("traffic", list(TRAFFIC))
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_numba_and_python_twin_issue_identical_command_logs(traffic, policy):
    for name in ("hbm2", "gddr6"):
        s = load_spec(name, row_policy=policy)
        a, w, arr = TRAFFIC[traffic](s)
        rn = simulate(s, a, w, arr, log=True, engine="numba")
        rp = simulate(s, a, w, arr, log=True, engine="python")
        assert len(rn.log) > len(a)
        assert np.array_equal(rn.log.as_array(), rp.log.as_array())
        assert rn.cycles == rp.cycles and rn.commands == rp.commands


@pytest.mark.parametrize("name", STANDARDS)
def test_checker_finds_no_violation_on_1e5_random_and_adversarial_requests(name):
    for policy, refresh in (("open", "per_bank"), ("closed", "all_bank")):
        s = load_spec(name, row_policy=policy, refresh=refresh)
        a, w, arr = random_traffic(s, 100_000 if policy == "open" else 20_000, seed=11, gap=1)
        res = simulate(s, a, w, arr, log=True)
        assert check_log(s, res.log) == []
    a, w, _ = TRAFFIC["conflict"](s)
    res = simulate(s, a, w, log=True)
    assert check_log(s, res.log) == []
    a, w, _ = stream_traffic(s, 20_000)
    res = simulate(s, a, np.arange(20_000) % 5 == 0, log=True)
    assert check_log(s, res.log) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", STANDARDS)
def test_checker_finds_no_violation_on_1e6_random_requests(name):
    s = load_spec(name)
    a, w, arr = random_traffic(s, 1_000_000, seed=12, gap=1)
    res = simulate(s, a, w, arr, log=True)
    assert check_log(s, res.log) == []


def _log_copy(log, **changes):
    from dataclasses import replace
    return replace(log, **{k: v for k, v in changes.items()})


def test_checker_catches_injected_violations():
    s = load_spec("hbm2")
    a, w, arr = random_traffic(s, 5000, seed=4, gap=1)
    log = simulate(s, a, w, arr, log=True).log
    assert check_log(s, log) == []
    cmd = log.command
    # 1. a RD issued 1 cycle after the ACT that opened its row (tRCD violated): take an ACT
    # whose next command in its channel is the RD of the same bank, and move that RD earlier
    ids = s.command_set.id
    same_ch_next = (log.channel[1:] == log.channel[:-1])
    pairs = np.flatnonzero(same_ch_next & (cmd[:-1] == ids["ACT"]) & (cmd[1:] == ids["RD"])
                           & (log.rank[1:] == log.rank[:-1])
                           & (log.bank_group[1:] == log.bank_group[:-1])
                           & (log.bank[1:] == log.bank[:-1]))
    assert len(pairs), "the traffic must contain an ACT directly followed by its RD"
    act = int(pairs[0])
    rd = act + 1
    cyc = log.cycle.copy()
    cyc[rd] = cyc[act] + 1
    v = check_log(s, _log_copy(log, cycle=cyc))
    assert any(x.index == rd and f"ACT@{cyc[act]} -> RD at bank" in x.message for x in v), v
    # 2. drop a PRE: the next ACT to that bank finds the row open
    pre = np.flatnonzero(cmd == ids["PRE"])[5]
    keep = np.ones(len(cmd), bool)
    keep[pre] = False
    sub = _log_copy(log, **{f: getattr(log, f)[keep] for f in
                            ("cycle", "command", "channel", "rank", "bank_group", "bank", "row",
                             "column", "request")})
    v = check_log(s, sub)
    assert any("open" in x.message for x in v)
    # 3. two reads on the same cycle's neighbour: shift one RD one cycle earlier onto the data bus
    rds = np.flatnonzero((cmd == ids["RD"]) & (log.channel == 0))
    i, j = rds[100], rds[101]
    cyc = log.cycle.copy()
    cyc[j] = cyc[i] + 1
    v = check_log(s, _log_copy(log, cycle=cyc))
    assert v, "a read one cycle after another (nBL = 2) must be flagged"
