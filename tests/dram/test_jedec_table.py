"""The checker's second rule table (written from the JEDEC definitions) catches what the
simulator's table lacks (issue 13): before, the checker read only the simulator's rules, so a
missing tPPD or tRCDWR passed unnoticed."""
import numpy as np
import pytest

from archsim.dram import CommandLog, check_log, list_specs, load_spec
from archsim.dram.jedec import jedec_constraints
from archsim.dram.standards import CMD

LEVELS = ("channel", "rank", "bank_group", "bank")


def log_of(events):
    """A one-channel log of ``(cycle, command, (rank, bank group, bank))``."""
    n = len(events)

    def col(values):
        return np.array(list(values), np.int64)
    return CommandLog(cycle=col(e[0] for e in events), command=col(CMD[e[1]] for e in events),
                      channel=np.zeros(n, np.int64), rank=col(e[2][0] for e in events),
                      bank_group=col(e[2][1] for e in events),
                      bank=col(e[2][2] for e in events), row=np.ones(n, np.int64),
                      column=np.zeros(n, np.int64), request=np.full(n, -1, np.int64))


@pytest.mark.parametrize("preset", list_specs())
def test_every_jedec_rule_is_honoured_by_the_simulators_table(preset):
    # for each JEDEC rule the simulator has a rule on the same pair of commands, at a level
    # that covers at least the same banks, with at least the same latency
    spec = load_spec(preset)
    ref = jedec_constraints(spec.config.standard, spec.timings, spec.command_set.names)
    assert len(ref) >= 30
    for j in ref:
        for p in j.preceding:
            for f in j.following:
                lats = [c.latency for c in spec.constraints if c.window == j.window
                        and p in c.preceding and f in c.following
                        and LEVELS.index(c.level) <= LEVELS.index(j.level)]
                assert lats and max(lats) >= j.latency, (preset, j, p, f)


def test_a_rule_missing_from_the_simulators_table_is_caught():
    # HBM3 tPPD = 2: two PREs to banks of different groups one cycle apart
    spec = load_spec("hbm3", refresh="none")
    assert spec.timings["nPPD"] == 2
    a, b = (0, 0, 0), (0, 1, 0)
    t = spec.timings["nRAS"] + 10
    log = log_of([(0, "ACT", a), (5, "ACT", b), (t, "PRE", a), (t + 1, "PRE", b)])
    without_ppd = [c for c in spec.constraints if c.preceding != ("PRE",)
                   or c.following != ("PRE",)]
    assert len(without_ppd) == len(spec.constraints) - 1
    assert check_log(spec, log, without_ppd) == []      # the simulator's table alone: missed
    v = check_log(spec, log)                            # with the JEDEC table: caught
    assert len(v) == 1 and v[0].message.startswith(f"PRE@{t} -> PRE at rank")
    ok = log_of([(0, "ACT", a), (5, "ACT", b), (t, "PRE", a), (t + 2, "PRE", b)])
    assert check_log(spec, ok) == []


@pytest.mark.parametrize("preset,gap_read,gap_write", [("gddr6", 27, 16), ("hbm3", 31, 15),
                                                       ("hbm2", 14, 14), ("gddr6-aim", 36, 28)])
def test_write_act_to_cas_delay_is_its_own_timing(preset, gap_read, gap_write):
    # tRCDWR: a WR may follow its ACT after nRCDWR, a RD only after nRCD (t - 1 blocked, t ok)
    spec = load_spec(preset, refresh="none")
    a = (0, 0, 0)
    assert (spec.timings["nRCD"], spec.timings["nRCDWR"]) == (gap_read, gap_write)
    for cmd, gap in (("RD", gap_read), ("WR", gap_write)):
        assert check_log(spec, log_of([(0, "ACT", a), (gap, cmd, a)])) == []
        v = check_log(spec, log_of([(0, "ACT", a), (gap - 1, cmd, a)]))
        assert v and all(x.message.endswith(f"< {gap} cycles") for x in v)
