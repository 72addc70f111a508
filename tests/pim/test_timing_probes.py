"""t-1 / t probes for the PIM timing rules (issue 9, item 8), per PIM preset.

:data:`archsim.pim.commands.PIM_RULES` are evaluated per PIM preset (``pim.constraints`` ends with
them, after the DRAM standard's rules, which ``tests/dram/test_timing_probes.py`` probes).

Checker side: for every PIM preset and every PIM rule the test builds the smallest legal command
log of all-bank commands that makes ``following`` legal except for this rule (an ACTAB first when
a command needs the banks open; the banks closed by a PREA at nRAS when ``following`` needs them
closed after an ACTAB), issues ``following`` exactly ``t - 1`` cycles after ``preceding`` and
requires :func:`archsim.dram.check_log` to name this rule, and at ``t`` requires no violation at
all; with the rule's latency raised by one the log at ``t`` must be flagged. Where the rule is
the only reason (no other rule or data-bus check with an equal bound), the ``t - 1`` log must
pass the checker without this rule; where an equal bound exists (a channel rule between data-bus
commands is the bus itself) it must not. Rules that cannot be probed on a preset are listed in
:data:`UNPROBEABLE` with the reason, which the test checks (a larger chain of rules still makes
``following`` illegal at ``t``); a rule that is neither probeable nor listed fails.

Simulator side (:data:`SIM_PROBES`): for every PIM rule a command stream in which that rule is
the binding one is scheduled by the in-order PIM kernel (:mod:`archsim.pim.kernel`, via
:func:`archsim.pim.gemv.streams_log`); the command log passes the checker and shows
``following`` issued exactly ``t`` cycles after ``preceding``. :data:`SIM_NOT_BINDING` lists the
presets where a larger chain of rules binds instead (the gap must then exceed ``t``).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from archsim.dram import CommandLog, check_log
from archsim.dram.standards import rule_key
from archsim.pim import list_pims, load_pim
from archsim.pim.commands import PIM_RULES
from archsim.pim.gemv import stream_arrays, streams_log

PRESETS = list_pims()
PIMS = {name: load_pim(name) for name in PRESETS}
ALL_BANKS = (0, 0, 0)   # every PIM command addresses rank 0 as a whole (rank/channel scope)


def pim_rules(pim):
    """``[(index in pim.constraints, rule as written, evaluated Constraint)]`` of the PIM rules."""
    cons = pim.constraints
    first = len(cons) - len(PIM_RULES)
    assert first == len(pim.dram.constraints), "PIM constraints no longer = DRAM's + PIM_RULES"
    out = []
    for j, rule in enumerate(PIM_RULES):
        c = cons[first + j]
        assert (c.level, c.preceding, c.following, c.window) == \
            (rule[0], tuple(rule[1]), tuple(rule[2]), rule[4]), (rule, c)
        out.append((first + j, rule, c))
    return out


CASES = [pytest.param(name, j, id=f"{name}-{rule_key(rule)}")
         for name in PRESETS for j, rule in enumerate(PIM_RULES)]

#: rules that no command sequence can probe on the listed presets, with the reason; the test
#: checks each (``following`` is still illegal at ``t``, and not because of this rule)
UNPROBEABLE = {
    "rank-ACTAB->ACTAB-nRC_AB": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "nRAS + nRPab = 45 + 19 = 64 > nRC_AB = 63: the banks must close (PREA no earlier than "
        "nRAS after the ACTAB) and reopen (nRPab after the PREA), so ACTAB -> PREA -> ACTAB "
        "binds, never nRC_AB"),
    "rank-ACTAB->REFab-nRC": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "nRAS + nRPab = 45 + 19 = 64 > nRC = 63: REFab needs the banks closed, so ACTAB -> PREA "
        "(nRAS) -> REFab (PREA -> REFab, nRPab) binds, never nRC"),
    "channel-WRGB->MACAB-nWRGB_MAC": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "latency 0 (AttAcc's HBM3-PIM has no WRGB -> MACAB rule): no cycle t - 1 to probe"),
    # the probes address one bank group, where the move rule nCCD_L = 4 > nBL = 2 binds
    "channel-MVSB/MVGB/SFM/WRGB->MVSB/MVGB/SFM-nBL": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "nCCD_L = 4 > nBL = 2 between moves to one bank group, the only one the probes address"),
    "channel-MVSB/MVGB/SFM->WRGB-nBL": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "nCCD_L = 4 > nBL = 2 between moves to one bank group, the only one the probes address"),
    "channel-WRGB->WRGB-nBL": (
        frozenset({"hbm3-attacc", "hbm3-attacc-npc"}),
        "nCCD_L = 4 > nBL = 2 between buffer writes to one bank group, the only one the probes "
        "address"),
}


# ---------------------------------------------------------------------------------------------
# checker probes
# ---------------------------------------------------------------------------------------------

def make_log(pim, events) -> CommandLog:
    """A one-channel :class:`CommandLog` of ``(cycle, command)``, all to rank 0 (row 1 for an
    ACTAB)."""
    events = sorted(events, key=lambda e: e[0])
    ids = pim.command_set.id
    n = len(events)
    z = np.zeros(n, np.int64)
    return CommandLog(
        cycle=np.array([e[0] for e in events], np.int64),
        command=np.array([ids[e[1]] for e in events], np.int64), channel=z, rank=z.copy(),
        bank_group=z.copy(), bank=z.copy(),
        row=np.array([1 if e[1] == "ACTAB" else -1 for e in events], np.int64),
        column=z.copy(), request=np.full(n, -1, np.int64))


def plan(pim, p, f):
    """``(setup, mid, gap)``: commands before ``p`` (``gap`` apart, the last ``gap`` before
    ``p``), commands at offsets after ``p`` and the setup spacing; the banks are open for a
    command that needs them open and closed for one that needs them closed."""
    cmds = pim.command_set.by_name
    gap = max(c.latency for c in pim.constraints) + 1
    setup = []
    opened = False
    if cmds[p].needs == "open" or (p != "ACTAB" and (p == "PREA" or f == "PREA" or
                                                      cmds[f].needs == "open")):
        setup.append("ACTAB")   # (a PREA closes an open row, as in every PIM stream)
        opened = True
    if cmds[p].then == "open":
        opened = True
    elif cmds[p].then in ("close", "refresh"):
        opened = False
    mid = ()
    if opened and cmds[f].needs in ("closed", "all_closed"):
        assert p == "ACTAB", (p, f)
        mid = ((pim.timings["nRAS"], "PREA"),)   # the earliest the banks can close again
    return tuple(setup), mid, gap


def events(pim, p, f, dt):
    setup, mid, gap = plan(pim, p, f)
    t0 = len(setup) * gap
    ev = [(i * gap, c) for i, c in enumerate(setup)] + [(t0, p)]
    ev += [(t0 + o, c) for o, c in mid]
    ev.append((t0 + dt, f))
    return ev, t0


def bus_bound(pim, p, f):
    """Smallest ``f`` - ``p`` issue gap the data-bus check allows (None unless both use it)."""
    cmds, t = pim.command_set.by_name, pim.timings
    if cmds[p].bus is None or cmds[f].bus is None:
        return None
    (lp, dp), (lf, df) = cmds[p].bus, cmds[f].bus
    return t[lp] + t["nBL"] + (t["nTA"] if dp != df else 0) - t[lf]


def pair_bounds(pim, p, f, constraints=None):
    """Latencies of the (non-window) rules ordering ``p`` -> ``f`` (one rank: every level
    applies to these rank- and channel-scoped commands)."""
    cons = pim.constraints if constraints is None else constraints
    return [c.latency for c in cons if not c.window and p in c.preceding and f in c.following]


def _names_rule(v, c, p, f, t0) -> bool:
    return v.message.startswith(f"{p}@{t0} -> {f} at {c.level} ") and \
        v.message.endswith(f" < {c.latency} cycles")


def probe(pim, index, constraints=None) -> list:
    """Probe rule ``pim.constraints[index]`` at t - 1 and t; returns the problems found.

    ``constraints`` (default ``pim.constraints``) is what the checker is given, so a checker
    with one latency off by one can be shown to fail the probe.
    """
    c = pim.constraints[index]
    cons = list(pim.constraints if constraints is None else constraints)
    lat = c.latency
    sharper = cons[:index] + [replace(cons[index], latency=lat + 1)] + cons[index + 1:]
    without = cons[:index] + cons[index + 1:]
    problems = []
    for p in c.preceding:
        for f in c.following:
            tag = f"{p}->{f}"
            far, t0 = events(pim, p, f, plan(pim, p, f)[2])
            at, _ = events(pim, p, f, lat)
            before, _ = events(pim, p, f, lat - 1)
            v = check_log(pim, make_log(pim, far), cons)
            if v:
                problems.append(f"{tag}: setup with `following` far away is flagged: {v[0]}")
                continue
            v = check_log(pim, make_log(pim, at), cons)
            if v:
                problems.append(f"{tag}: `following` at t = {lat} is flagged: {v[0]}")
            v = check_log(pim, make_log(pim, before), cons)
            if not any(_names_rule(x, c, p, f, t0) for x in v):
                problems.append(f"{tag}: `following` at t - 1 = {lat - 1} is not flagged by "
                                f"this rule: {[str(x) for x in v]}")
            if not any(_names_rule(x, replace(c, latency=lat + 1), p, f, t0)
                       for x in check_log(pim, make_log(pim, at), sharper)):
                problems.append(f"{tag}: with latency {lat + 1} the log at t is not flagged")
            equal = pair_bounds(pim, p, f).count(c.latency) > 1 or bus_bound(pim, p, f) == lat
            rest = check_log(pim, make_log(pim, before), without)
            if not equal and rest:
                problems.append(f"{tag}: without this rule t - 1 is still flagged: {rest[0]}")
            if equal and not rest:
                problems.append(f"{tag}: expected an equal rule or the data bus to flag t - 1")
    return problems


def _unprobeable_problems(pim, c) -> list:
    problems = []
    for p in c.preceding:
        for f in c.following:
            far, t0 = events(pim, p, f, plan(pim, p, f)[2])
            if check_log(pim, make_log(pim, far)):
                problems.append(f"{p}->{f}: no legal setup at all")
                continue
            v = check_log(pim, make_log(pim, events(pim, p, f, c.latency)[0]))
            # at t the following command is still illegal, because of another rule
            if not v or any(_names_rule(x, c, p, f, t0) for x in v):
                problems.append(f"{p}->{f}: listed as masked but not masked at t: {v}")
    return problems


@pytest.mark.parametrize("preset,j", CASES)
def test_pim_rule_is_violated_at_t_minus_1_and_met_at_t(preset, j):
    pim = PIMS[preset]
    index, rule, c = pim_rules(pim)[j]
    key = rule_key(rule)
    listed = UNPROBEABLE.get(key)
    if listed is not None and preset in listed[0]:
        assert _unprobeable_problems(pim, c) == []
        return
    assert c.latency > 0, f"{preset} {key}: latency {c.latency} <= 0 cannot be probed: list it " \
        f"in UNPROBEABLE with the reason"
    assert probe(pim, index) == [], f"{preset} {key}: probe failed (if it cannot be probed on " \
        f"this preset, list it in UNPROBEABLE with the reason)"


@pytest.mark.parametrize("preset", PRESETS)
def test_pim_probes_fail_when_one_latency_is_off_by_one(preset):
    """Each probe can fail: the checker given the rule's latency - 1 (or + 1) fails it."""
    pim = PIMS[preset]
    n = 0
    for index, rule, c in pim_rules(pim):
        listed = UNPROBEABLE.get(rule_key(rule))
        if listed is not None and preset in listed[0]:
            continue
        for delta in (-1, 1):
            cons = list(pim.constraints)
            cons[index] = replace(c, latency=c.latency + delta)
            assert probe(pim, index, cons), (rule_key(rule), delta)
        n += 1
    unlisted = [k for k, (presets, _why) in UNPROBEABLE.items() if preset in presets]
    assert n == len(PIM_RULES) - len(unlisted) and len(unlisted) <= 6


def test_every_pim_rule_of_every_pim_preset_is_probed_or_listed():
    assert {"gddr6-aim", "hbm3-attacc", "hbm3-attacc-npc", "pim_gpt_gddr6"} <= set(PRESETS)
    assert len(CASES) == len(PRESETS) * len(PIM_RULES)
    ids = [p.id for p in CASES]
    assert len(set(ids)) == len(ids), "rule ids must be unique"
    keys = {rule_key(r) for r in PIM_RULES}
    for key, (presets, why) in UNPROBEABLE.items():
        assert key in keys, f"stale UNPROBEABLE entry {key}"
        assert presets <= set(PRESETS) and why
    # every rule is probed by the simulator too (or listed as not binding there)
    assert {rule_key(r) for r in PIM_RULES} == {rule_key(v[0]) for v in SIM_PROBES.values()}


# ---------------------------------------------------------------------------------------------
# simulator probes: the in-order PIM kernel issues `following` exactly t after `preceding`
# ---------------------------------------------------------------------------------------------

def schedule(pim, names):
    """Schedule the all-bank command stream ``names`` (each ACTAB opens a new row) on one
    channel; returns the checked log as ``[(cycle, command)]``."""
    ids = pim.command_set.id
    cmd = np.array([ids[n] for n in names], np.int64)
    row = np.cumsum(cmd == ids["ACTAB"]) - 1
    log = streams_log(pim, pim.config.mac.dtype, [stream_arrays([cmd], [row])])
    assert check_log(pim, log) == []
    names_of = pim.command_set.names
    return [(cy, names_of[c]) for cy, c in zip(log.cycle.tolist(), log.command.tolist())]


def gap(log, p, f, nth=0):
    """Cycles from the ``nth`` ``p`` to the first ``f`` after it."""
    tp = [cy for cy, c in log if c == p][nth]
    return next(cy for cy, c in log if cy > tp and c == f) - tp


def gap_to_last_before(log, p, f):
    """Cycles from the last ``p`` before the first ``f`` to that ``f``."""
    tf = next(cy for cy, c in log if c == f)
    return tf - max(cy for cy, c in log if cy < tf and c == p)


def _macs(pim, cycles):
    """Enough MACABs to fill ``cycles`` (so a later command waits for them, not the ACTAB)."""
    return ["MACAB"] * (cycles // pim.timings["nCCD_AB_eff"] + 2)


def _until_refresh(pim, block):
    """``block`` repeated past the first refresh (due at nREFI, inserted before an ACTAB)."""
    return block * (pim.timings["nREFI"] // len(block) + 2)


def _rule(expr_rule):
    for rule in PIM_RULES:
        if rule_key(rule) == expr_rule:
            return rule
    raise AssertionError(f"{expr_rule} is not a PIM rule")


# name -> (rule, probe returning the observed issue gap preceding -> following)
SIM_PROBES = {
    # MACABs keep the row open past nRC_AB - nRPab, so the reopening ACTAB waits for nRPab
    "nRPab": (_rule("rank-PREA->ACTAB-nRPab"),
              lambda s: gap(schedule(s, ["ACTAB"] + _macs(s, s.timings["nRC"]) +
                                     ["PREA", "ACTAB"]), "PREA", "ACTAB")),
    # rows of MACABs until the first refresh: the next ACTAB waits nRFC after the REFab
    "nRFC": (_rule("rank-REFab->ACTAB-nRFC"),
             lambda s: gap(schedule(s, _until_refresh(s, ["ACTAB"] + _macs(s, 0) + ["PREA"])),
                           "REFab", "ACTAB")),
    # ACTAB, PREA at nRAS; the refresh before the next ACTAB waits for nRC of the last ACTAB
    "nRC": (_rule("rank-ACTAB->REFab-nRC"),
            lambda s: gap_to_last_before(schedule(s, _until_refresh(s, ["ACTAB", "PREA"])),
                                         "ACTAB", "REFab")),
    "nRC_AB": (_rule("rank-ACTAB->ACTAB-nRC_AB"),
               lambda s: gap(schedule(s, ["ACTAB", "PREA", "ACTAB"]), "ACTAB", "ACTAB")),
    "nRCD_AB": (_rule("rank-ACTAB->MACAB-nRCD_AB"),
                lambda s: gap(schedule(s, ["ACTAB", "MACAB"]), "ACTAB", "MACAB")),
    "nRAS": (_rule("rank-ACTAB->PREA-nRAS"),
             lambda s: gap(schedule(s, ["ACTAB", "PREA"]), "ACTAB", "PREA")),
    "nCCD_AB_eff": (_rule("rank-MACAB->MACAB-nCCD_AB_eff"),
                    lambda s: gap(schedule(s, ["ACTAB", "MACAB", "MACAB"]), "MACAB", "MACAB")),
    # MACABs past nRAS: the PREA waits nRTP after the last one
    "nMACAB_PRE after MACAB": (_rule("rank-MACAB->PREA-nMACAB_PRE"),
                         lambda s: gap_to_last_before(
                             schedule(s, ["ACTAB"] + _macs(s, s.timings["nRAS"]) + ["PREA"]),
                             "MACAB", "PREA")),
    "nMAC_RD": (_rule("rank-MACAB->RDMAC-nMAC_RD"),
                lambda s: gap(schedule(s, ["ACTAB", "MACAB", "RDMAC"]), "MACAB", "RDMAC")),
    # a MACAB right after a RDMAC (the previous MACAB is nMAC_RD earlier)
    "nCCD_L": (_rule("rank-RDMAC->MACAB-nCCD_L"),
               lambda s: gap(schedule(s, ["ACTAB", "MACAB", "RDMAC", "MACAB"]), "RDMAC", "MACAB")),
    # a WRGB between two MACABs of an open row: the second MACAB waits for the global buffer
    "nWRGB_MAC": (_rule("channel-WRGB->MACAB-nWRGB_MAC"),
                  lambda s: gap(schedule(s, ["ACTAB", "MACAB", "WRGB", "MACAB"]), "WRGB",
                                "MACAB")),
    "nBL WRGB": (_rule("channel-WRGB->WRGB-nBL"),
                 lambda s: gap(schedule(s, ["WRGB", "WRGB"]), "WRGB", "WRGB")),
    "nBL RDMAC": (_rule("channel-RDMAC->RDMAC-nBL"),
                  lambda s: gap(schedule(s, ["ACTAB", "MACAB", "RDMAC", "RDMAC"]), "RDMAC",
                                "RDMAC")),
    "RDMAC->WRGB turnaround": (_rule("channel-RDMAC->WRGB-nCL+nBL+nTA-nCWL"),
                               lambda s: gap(schedule(s, ["ACTAB", "MACAB", "RDMAC", "WRGB"]),
                                             "RDMAC", "WRGB")),
    "nWTR_S": (_rule("channel-WRGB->RDMAC-nCWL+nBL+nWTR_S"),
               lambda s: gap(schedule(s, ["WRGB", "RDMAC"]), "WRGB", "RDMAC")),
    # MACABs past nRAS, then a RDMAC (nMAC_RD after the last MAC): the PREA waits nRTP after it
    # AttAcc's on-die moves share the data path of WRGB (HBM3-PIM.cpp "Data Movement")
    "nBL moves": (_rule("channel-MVSB/MVGB/SFM/WRGB->MVSB/MVGB/SFM-nBL"),
                  lambda s: gap(schedule(s, ["WRGB", "MVSB"]), "WRGB", "MVSB")),
    "nBL move -> WRGB": (_rule("channel-MVSB/MVGB/SFM->WRGB-nBL"),
                         lambda s: gap(schedule(s, ["MVGB", "WRGB"]), "MVGB", "WRGB")),
    "nCCD_L moves": (_rule("bank_group-MVSB/MVGB/SFM/WRGB->MVSB/MVGB/SFM-nCCD_L"),
                     lambda s: gap(schedule(s, ["MVSB", "MVSB"]), "MVSB", "MVSB")),
    "nCCD_L move -> WRGB": (_rule("bank_group-MVSB/MVGB/SFM->WRGB-nCCD_L"),
                            lambda s: gap(schedule(s, ["MVSB", "WRGB"]), "MVSB", "WRGB")),
    # AttAcc's buffer writes address banks: two to one bank group wait nCCD_L (HBM3-PIM.cpp)
    "nCCD_L WRGB": (_rule("bank_group-WRGB->WRGB-nCCD_L"),
                    lambda s: gap(schedule(s, ["WRGB", "WRGB"]), "WRGB", "WRGB")),
    "nRTP after RDMAC": (_rule("rank-RDMAC->PREA-nRTP"),
                         lambda s: gap(schedule(s, ["ACTAB"] + _macs(s, s.timings["nRAS"]) +
                                                ["RDMAC", "PREA"]), "RDMAC", "PREA")),
}

#: (preset, probe) pairs whose rule is not the binding one on that preset, with the reason
SIM_NOT_BINDING = {
    ("hbm3-attacc", "nRC_AB"): "nRAS + nRPab = 64 > nRC_AB = 63 (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nRC_AB"): "nRAS + nRPab = 64 > nRC_AB = 63 (see UNPROBEABLE)",
    ("hbm3-attacc", "nRC"): "nRAS + PREA -> REFab nRPab = 64 > nRC = 63 (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nRC"): "nRAS + PREA -> REFab nRPab = 64 > nRC = 63 (see UNPROBEABLE)",
    ("hbm3-attacc", "nWRGB_MAC"): "latency 0: the MACAB waits for nCCD_AB (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nWRGB_MAC"): "latency 0: the MACAB waits for nCCD_AB (see UNPROBEABLE)",
    ("hbm3-attacc", "nBL WRGB"): "nCCD_L = 4 > nBL = 2 in one bank group (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nBL WRGB"): "nCCD_L = 4 > nBL = 2 in one bank group (see UNPROBEABLE)",
    ("hbm3-attacc", "nBL moves"): "nCCD_L = 4 > nBL = 2 in one bank group (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nBL moves"): "nCCD_L = 4 > nBL = 2 in one bank group (see UNPROBEABLE)",
    ("hbm3-attacc", "nBL move -> WRGB"): "nCCD_L = 4 > nBL = 2 (see UNPROBEABLE)",
    ("hbm3-attacc-npc", "nBL move -> WRGB"): "nCCD_L = 4 > nBL = 2 (see UNPROBEABLE)",
}

SIM_CASES = [pytest.param(n, k, id=f"{n}-{k}") for n in PRESETS for k in SIM_PROBES]


def _constraint(pim, rule):
    for _index, r, c in pim_rules(pim):
        if r == rule:
            return c
    raise AssertionError(f"{rule} is not a rule of {pim.name}")


@pytest.mark.parametrize("preset,name", SIM_CASES)
def test_pim_kernel_issues_following_exactly_at_t(preset, name):
    rule, measure = SIM_PROBES[name]
    pim = PIMS[preset]
    c = _constraint(pim, rule)
    observed = measure(pim)
    if (preset, name) in SIM_NOT_BINDING:
        assert observed > c.latency, f"{name} is listed as not binding on {preset} but the " \
            f"gap is t"
        return
    assert observed == c.latency, f"{preset} {name}: {rule[1][0]} -> {rule[2][0]} issued " \
        f"{observed} cycles apart, rule says exactly {c.latency}"


def test_sim_not_binding_entries_match_unprobeable():
    """A rule the checker cannot probe on a preset cannot bind in the simulator either."""
    for (preset, name), why in SIM_NOT_BINDING.items():
        assert preset in PRESETS and name in SIM_PROBES and why
        listed = UNPROBEABLE.get(rule_key(SIM_PROBES[name][0]))
        assert listed is not None and preset in listed[0], (preset, name)
