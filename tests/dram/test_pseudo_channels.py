"""HBM pseudo-channels share their channel's row and column command buses (JESD235/JESD238;
issue 13). Before, each pseudo-channel had its own controller and command bus, so the two could
issue ACTs, or column commands, in the same cycle."""
import numpy as np
import pytest

from archsim.dram import CommandLog, check_log, load_spec, simulate
from archsim.dram.mapping import encode
from archsim.errors import ConfigError


def log_of(spec, events):
    """A log of ``(cycle, command, flat pseudo-channel, bank group, bank)``, row 1."""
    events = sorted(events, key=lambda e: (e[2], e[0]))
    ids = spec.command_set.id
    n = len(events)

    def col(i):
        return np.array([e[i] for e in events], np.int64)
    return CommandLog(cycle=col(0), command=np.array([ids[e[1]] for e in events], np.int64),
                      channel=col(2), rank=np.zeros(n, np.int64), bank_group=col(3),
                      bank=col(4), row=np.ones(n, np.int64), column=np.zeros(n, np.int64),
                      request=np.full(n, -1, np.int64))


@pytest.mark.parametrize("preset", ["hbm2", "hbm3"])
def test_checker_probes_the_shared_buses_at_t_minus_1_and_t(preset):
    spec = load_spec(preset, refresh="none")
    assert spec.controller.pseudo_channel_buses == "shared"
    # ACT holds the row bus 2 cycles: an ACT of the other pseudo-channel at +1 is flagged, at +2
    # it is legal
    assert check_log(spec, log_of(spec, [(0, "ACT", 0, 0, 0), (2, "ACT", 1, 0, 0)])) == []
    v = check_log(spec, log_of(spec, [(0, "ACT", 0, 0, 0), (1, "ACT", 1, 0, 0)]))
    assert len(v) == 1 and "row command bus" in v[0].message
    # one column command per cycle on the channel; a row and a column command may share one
    t = spec.timings["nRCD"] + 5
    base = [(0, "ACT", 0, 0, 0), (2, "ACT", 1, 0, 0)]
    assert check_log(spec, log_of(spec, base + [(t, "RD", 0, 0, 0), (t + 1, "RD", 1, 0, 0)])) \
        == []
    v = check_log(spec, log_of(spec, base + [(t, "RD", 0, 0, 0), (t, "RD", 1, 0, 0)]))
    assert len(v) == 1 and "column command bus" in v[0].message
    assert check_log(spec, log_of(spec, base + [(t, "RD", 0, 0, 0), (t, "ACT", 1, 1, 0)])) == []
    # different channels do not share
    assert check_log(spec, log_of(spec, [(0, "ACT", 0, 0, 0), (0, "ACT", 2, 0, 0)])) == []


def test_the_controller_honours_the_shared_buses():
    # a read to a closed bank in each pseudo-channel of channel 0 at once: the second ACT comes
    # 2 cycles after the first (before: both at cycle 0)
    for buses, gap in (("shared", 2), ("independent", 0)):
        spec = load_spec("hbm3", refresh="none", pseudo_channel_buses=buses)
        addr = encode(spec, [0, 1], 0, 0, 0, 1, 0)
        res = simulate(spec, addr, [False, False], log=True)
        assert check_log(spec, res.log) == []
        acts = res.log.cycle[res.log.command == spec.command_set.id["ACT"]]
        assert sorted(acts.tolist()) == [0, gap]


def test_streams_and_random_traffic_pass_the_checker_with_shared_buses():
    spec = load_spec("hbm3")
    rng = np.random.default_rng(1)
    n = 20000
    for addr, wr in ((np.arange(n) * 32, rng.random(n) < 0.2),
                     (rng.integers(0, spec.capacity_bytes // 32, n) * 32, rng.random(n) < 0.3)):
        res = simulate(spec, addr, wr, log=True)
        assert (res.issue >= 0).all()
        assert check_log(spec, res.log) == []


def test_shared_buses_are_an_hbm_feature_with_one_rank():
    with pytest.raises(ConfigError, match="HBM feature"):
        load_spec("gddr6", pseudo_channel_buses="shared")
