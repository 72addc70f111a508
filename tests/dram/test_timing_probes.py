"""t-1 / t probes for every timing rule of every DRAM preset (issue 9, item 8).

Checker side: for every DRAM preset of :func:`archsim.dram.list_specs` and every evaluated
constraint of its standard (``spec.constraints``: level, preceding, following, latency, window) the
test builds the smallest legal command log that makes ``following`` legal except for this rule,
then issues ``following`` at exactly ``t - 1`` cycles after the rule's start (the ``preceding``
command, or the first ACT of a tFAW window) and requires :func:`archsim.dram.check_log` to name
this rule, and at ``t`` requires no violation at all. Every (preceding, following) command pair of
a rule is probed. The bank relation follows the rule's level (same bank for 'bank', another bank
of the same group for 'bank_group', another group of the same rank for 'rank', the loosest pair
on the channel for 'channel'); among the relations the rule covers the loosest one in which no
rule with a larger latency binds the same pair is chosen (a stricter rule at a lower level would
otherwise mask the probe). Rules that cannot be probed on a preset are listed in
:data:`UNPROBEABLE` with the reason, and the test asserts the reason; a rule that is neither
probeable nor listed fails.

A probe at t - 1 may also be flagged by something else than the probed rule only where that is
unavoidable and equal, never stricter: the data-bus check (channel rules on RD/WR are the bus
itself), or another rule with the same latency on that preset (nCCD_S = nBL, nRRD_S = nRRD_L,
nWTR_S = nWTR_L, nFAW = 4 x nRRD_S on LPDDR5). :func:`probe` requires exactly that: when the
probed rule is the only one with the largest latency for the pair, the t - 1 log must pass the
checker without this rule; otherwise it must not.

Simulator side (:data:`SIM_PROBES`): request patterns for nRCD, nRAS, nRP, nRC (closed-row
policy), nRRD_S/L, nFAW, nCCD_S/L (reads and writes), nWTR_S/L, nRTP, nWR, the read-to-write
turnaround and the refresh rules nRFC, nRFCpb and nRREFD show from the command log that the numba
controller issues ``following`` exactly ``t`` cycles after ``preceding`` where that rule is the
binding one (honoured to the cycle, not conservatively); :data:`SIM_NOT_BINDING` lists where a
larger rule binds instead.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pytest

from archsim.dram import CommandLog, check_log, list_specs, load_spec, simulate
from archsim.dram.standards import CMD, COMMAND_SCOPE, STANDARDS, rule_key

DRAM_COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
PRESETS = list_specs()
# the rule probes run each pseudo-channel on its own command bus: the buses HBM pseudo-channels
# share are probed in test_pseudo_channels.py (HBM3's 2-cycle ACT on the shared row bus equals
# its nRRD_S and would co-bind that probe)
OWN_BUS = {name: {"pseudo_channel_buses": "independent"}
           if load_spec(name).org.pseudo_channels > 1 else {} for name in PRESETS}
SPECS = {name: load_spec(name, refresh="none", **OWN_BUS[name]) for name in PRESETS}

# bank state a command needs of the bank(s) it addresses
NEEDS = {"ACT": "closed", "PRE": "open", "PREA": None, "RD": "open", "WR": "open",
         "RDA": "open", "WRA": "open", "REFab": "all_closed", "REFpb": "closed"}

# relation of the following command's bank to the preceding command's bank A = (rank 0, bank
# group 0, bank 0): (rank, bank group, bank) of the following command
A = (0, 0, 0)
RELATIONS = {"same bank": (0, 0, 0), "same bank group": (0, 0, 1),
             "other bank group": (0, 1, 0), "other rank": (1, 0, 0)}
# relations whose node at the rule's level is shared, loosest first
LOOSEST_FIRST = {
    "channel": ("other rank", "other bank group", "same bank group", "same bank"),
    "rank": ("other bank group", "same bank group", "same bank"),
    "bank_group": ("same bank group", "same bank"),
    "bank": ("same bank",),
}


def _rules_with_expressions(spec):
    """(rule as written, evaluated Constraint) for every constraint of ``spec``."""
    timings = spec.timings
    written = [r for r in STANDARDS[spec.config.standard].rules
               if all(t.lstrip("-") in timings for t in r[3] if isinstance(t, str))]
    cons = spec.constraints
    assert len(written) == len(cons), "spec.constraints no longer follow the standard's rules"
    for r, c in zip(written, cons):
        assert (r[0], tuple(r[1]), tuple(r[2]), r[4]) == \
            (c.level, c.preceding, c.following, c.window), (r, c)
    return list(zip(written, cons))


CASES = []
for _name in PRESETS:
    for _idx, (_rule, _c) in enumerate(_rules_with_expressions(SPECS[_name])):
        CASES.append(pytest.param(_name, _idx, id=f"{_name}-{rule_key(_rule)}"))

_ALL = frozenset(PRESETS)

#: rules that no command sequence can probe on the listed presets, with the reason; the test
#: checks each reason (latency <= 0, or every bank relation covered by the rule is bound by a
#: strictly larger rule so that ``following`` is still illegal at ``t``)
UNPROBEABLE = {
    "channel-WR/WRA->RD/RDA-nCWL+nBL+nTA-nCL": (
        _ALL - {"ddr5"}, "latency",
        "nCWL + nBL + nTA - nCL <= 0 on every preset (read latency exceeds write latency + "
        "burst): the data-bus rule never binds; with one rank per channel the rank rule "
        "nCWL + nBL + nWTR_S orders WR -> RD instead"),
    "rank-RD/RDA->RD/RDA-nCCD_S": (
        frozenset({"hbm2"}), "masked",
        "HBM2 nCCD_S = 1 < nBL = 2 and one rank per channel: every pair of reads in a rank is "
        "also bound by the channel data-bus rule nBL (and nCCD_L in a bank group)"),
    "rank-WR/WRA->WR/WRA-nCCD_S": (
        frozenset({"hbm2"}), "masked",
        "HBM2 nCCD_S = 1 < nBL = 2 and one rank per channel: every pair of writes in a rank is "
        "also bound by the channel data-bus rule nBL (and nCCD_L in a bank group)"),
    "rank-ACT->ACT-nFAW-w4": (
        frozenset({"gddr6", "gddr6-aim", "hbm2-2400"}), "masked",
        "nFAW <= 4 x nRRD_S (GDDR6 29 <= 32, GDDR6-AiM 42 <= 44, HBM2 2.4 Gb/s 19 <= 20): a 5th "
        "ACT can never come "
        "before first ACT + 4 x nRRD_S, so the tFAW window never binds"),
}


#: more entries for keys that UNPROBEABLE already lists for other presets with another reason
MORE_UNPROBEABLE = {
    "channel-WR/WRA->RD/RDA-nCWL+nBL+nTA-nCL": (
        frozenset({"ddr5"}), "masked",
        "DDR5 nCWL + nBL + nTA - nCL = 10 > 0, but with one rank every WR -> RD pair is also "
        "bound by the rank rule nCWL + nBL + nWTR_S = 34"),
    "bank_group-ACT->ACT-nRRD_L": (
        frozenset({"ddr5"}), "masked",
        "DDR5-3200 x8 nRRD_L = 5 < nRRD_S = 8 (Ramulator 2 DDR5.cpp tables): the rank rule binds "
        "ACTs in a bank group too"),
    "bank_group-WR/WRA->WR/WRA-nCCD_L": (
        frozenset({"ddr5"}), "masked",
        "DDR5 writes in a bank group wait nCCD_L_WR = 16 > nCCD_L = 8"),
}


def listed_for(key, preset):
    """The UNPROBEABLE (or MORE_UNPROBEABLE) entry of ``key`` that names ``preset``, or None."""
    for table in (UNPROBEABLE, MORE_UNPROBEABLE):
        entry = table.get(key)
        if entry is not None and preset in entry[0]:
            return entry
    return None


# ---------------------------------------------------------------------------------------------
# command logs
# ---------------------------------------------------------------------------------------------

def make_log(events) -> CommandLog:
    """A one-channel :class:`CommandLog` of ``(cycle, command, (rank, bank group, bank))``."""
    events = sorted(events, key=lambda e: e[0])
    n = len(events)

    def col(values):
        return np.array(list(values), np.int64)

    return CommandLog(
        cycle=col(e[0] for e in events), command=col(CMD[e[1]] for e in events),
        channel=np.zeros(n, np.int64), rank=col(e[2][0] for e in events),
        bank_group=col(e[2][1] for e in events), bank=col(e[2][2] for e in events),
        row=col(1 if COMMAND_SCOPE[e[1]] == "bank" else -1 for e in events),
        column=np.zeros(n, np.int64), request=np.full(n, -1, np.int64))


def _relation_applies(level, p, f, rel) -> bool:
    """Does ``f`` at RELATIONS[rel] touch the node at ``level`` that ``p`` at A touched?"""
    if level == "channel":
        return True
    if rel == "other rank":
        return False
    if level == "rank" or COMMAND_SCOPE[p] == "rank" or COMMAND_SCOPE[f] == "rank":
        return True
    if level == "bank_group":
        return rel in ("same bank", "same bank group")
    return rel == "same bank"


def _relations(spec, level, p, f):
    org = spec.org
    out = []
    for rel in LOOSEST_FIRST[level]:
        if rel == "other rank" and org.ranks < 2 or rel == "other bank group" and \
                org.bank_groups < 2 or rel == "same bank group" and org.banks_per_group < 2:
            continue
        if _relation_applies(level, p, f, rel):
            out.append(rel)
    if COMMAND_SCOPE[p] == "rank" or COMMAND_SCOPE[f] == "rank":
        out = out[:1]  # a rank-scoped command touches every bank: one relation is enough
    return out


def pair_bound(spec, p, f, rel):
    """Largest latency of the (non-window) rules that order ``p`` -> ``f`` in relation ``rel``."""
    lats = [c.latency for c in spec.constraints if not c.window and p in c.preceding
            and f in c.following and _relation_applies(c.level, p, f, rel)]
    return max(lats)


@dataclass(frozen=True)
class Plan:
    """Setup commands (spaced ``gap`` apart), the preceding command at ``t0`` to bank A, commands
    ``mid`` at offsets from ``t0`` (closing A again when ``following`` needs it closed), and the
    following command to ``bank``."""

    setup: tuple
    mid: tuple
    bank: tuple
    relation: str
    gap: int

    @property
    def t0(self) -> int:
        return len(self.setup) * self.gap

    def events(self, p, f, dt):
        ev = [(i * self.gap, c, b) for i, (c, b) in enumerate(self.setup)]
        ev.append((self.t0, p, A))
        ev += [(self.t0 + o, c, b) for o, c, b in self.mid]
        ev.append((self.t0 + dt, f, self.bank))
        return ev


def plan(spec, p, f, rel):
    """The smallest setup that makes ``f`` legal after ``p`` (bank states only), or None."""
    B = RELATIONS[rel]
    gap = max(c.latency for c in spec.constraints) + 1  # setup never constrains the probe
    setup, opened = [], set()
    if NEEDS[p] == "open":
        setup.append(("ACT", A))
        opened.add(A)
    if NEEDS[f] == "open" and B not in opened and not (p == "ACT" and B == A):
        setup.append(("ACT", B))
        opened.add(B)
    after = set(opened)
    if p == "ACT":
        after.add(A)
    elif p in ("PRE", "RDA", "WRA"):
        after.discard(A)
    elif p in ("PREA", "REFab"):
        after.clear()
    if NEEDS[f] == "open" and B not in after:
        return None
    must_close = after if NEEDS[f] == "all_closed" else \
        (after & {B} if NEEDS[f] == "closed" else set())
    mid = ()
    if must_close:
        if p != "ACT" or must_close != {A}:
            return None
        # close the row again with a read + auto-precharge at nRCD (RDA -> ACT/REF is nRTP + nRP,
        # smaller than the nRC probed after an ACT to the same bank)
        mid = ((spec.timings["nRCD"], "RDA", A),)
    pl = Plan(tuple(setup), mid, B, rel, gap)
    # with `following` far away the sequence must be entirely legal
    if check_log(spec, make_log(pl.events(p, f, gap))):
        return None
    return pl


def choose(spec, c, p, f):
    """(plan, None) for the loosest relation where ``c`` is the binding rule, else
    (None, why) with the plan of the loosest feasible relation (for the masking proof)."""
    masked = None
    for rel in _relations(spec, c.level, p, f):
        pl = plan(spec, p, f, rel)
        if pl is None:
            continue
        if pair_bound(spec, p, f, rel) > c.latency:
            masked = masked or pl
            continue
        return pl, None
    return None, masked


def _names_rule(v, c, p, f, t0):
    if c.window:
        return f"more than {c.window} x {'/'.join(c.preceding)} in {c.latency} cycles at " \
               f"{c.level}" in v.message
    return v.message.startswith(f"{p}@{t0} -> {f} at {c.level} ") and \
        v.message.endswith(f" < {c.latency} cycles")


def _window_events(spec, c, dt):
    """4 ACTs to banks of different groups as early as the ACT-ACT rules allow, then a 5th ACT
    (to another bank of the first ACT's group) ``dt`` after the first."""
    org = spec.org
    banks = [(0, i % org.bank_groups, (i // org.bank_groups) % org.banks_per_group)
             for i in range(c.window + 1)]
    assert len(set(banks)) == len(banks)
    times = []
    for i, b in enumerate(banks[:-1]):
        t = times[-1] + 1 if times else 0
        for j in range(i):
            rel = _bank_relation(banks[j], b)
            t = max(t, times[j] + pair_bound(spec, "ACT", "ACT", rel))
        times.append(t)
    ev = [(t, "ACT", b) for t, b in zip(times, banks)]
    ev.append((times[0] + dt, "ACT", banks[-1]))
    return ev, times[0]


def _bank_relation(a, b):
    if a == b:
        return "same bank"
    if a[0] != b[0]:
        return "other rank"
    return "same bank group" if a[1] == b[1] else "other bank group"


# ---------------------------------------------------------------------------------------------
# checker probes
# ---------------------------------------------------------------------------------------------

def _probe_pairs(spec, c):
    """[(p, f, plan or None, plan of the loosest masked relation or None)] for each pair."""
    return [(p, f) + choose(spec, c, p, f) for p, f in itertools.product(c.preceding, c.following)]


def _uniquely_binding(spec, c, p, f, rel) -> bool:
    """True when ``c`` alone has the largest latency for ``p -> f`` in ``rel`` and no data-bus
    check covers the pair (the data bus is checked apart from the rules: a channel rule on
    RD/WR is always co-bound with it)."""
    lats = [x.latency for x in spec.constraints if not x.window and p in x.preceding
            and f in x.following and _relation_applies(x.level, p, f, rel)]
    return c.level != "channel" and lats.count(c.latency) == 1


def probe(spec, index, constraints=None) -> list:
    """Probe rule ``spec.constraints[index]`` at t - 1 and t; returns the problems found.

    ``constraints`` (default ``spec.constraints``) is what the checker is given, so a checker
    with one latency changed can be shown to fail the probe.
    """
    c = spec.constraints[index]
    cons = list(spec.constraints if constraints is None else constraints)
    lat = c.latency
    sharper = cons[:index] + [replace(cons[index], latency=lat + 1)] + cons[index + 1:]
    without = cons[:index] + cons[index + 1:]
    problems = []
    if c.window:
        pairs = [("ACT", "ACT", None)]
    else:
        pairs = []
        for p, f, pl, _masked in _probe_pairs(spec, c):
            if pl is None:
                problems.append(f"{p}->{f}: no bank relation in which this rule binds (masked "
                                f"by a larger rule or impossible): not probeable")
            else:
                pairs.append((p, f, pl))
    for p, f, pl in pairs:
        if c.window:
            far, t0 = _window_events(spec, c, 10 ** 6)
            at, before = (make_log(_window_events(spec, c, d)[0]) for d in (lat, lat - 1))
            # the window is the only reason the 5th ACT waits when 4 x the ACT-ACT spacing
            # leaves room before t - 1
            last = max(e[0] for e in far[:-1])
            isolated = lat - 1 - last >= pair_bound(spec, "ACT", "ACT", _bank_relation(
                far[-2][2], far[-1][2]))
            where = "window"
        else:
            far, t0 = pl.events(p, f, pl.gap), pl.t0
            at, before = (make_log(pl.events(p, f, d)) for d in (lat, lat - 1))
            isolated = _uniquely_binding(spec, c, p, f, pl.relation)
            where = pl.relation
        tag = f"{p}->{f} ({where})"
        v = check_log(spec, make_log(far), cons)
        if v:
            problems.append(f"{tag}: setup with `following` far away is flagged: {v[0]}")
            continue
        v = check_log(spec, at, cons)
        if v:
            problems.append(f"{tag}: `following` at t = {lat} is flagged: {v[0]}")
        v = check_log(spec, before, cons)
        if not any(_names_rule(x, c, p, f, t0) for x in v):
            problems.append(f"{tag}: `following` at t - 1 = {lat - 1} is not flagged by this "
                            f"rule: {[str(x) for x in v]}")
        if not any(_names_rule(x, replace(c, latency=lat + 1), p, f, t0)
                   for x in check_log(spec, at, sharper)):
            problems.append(f"{tag}: with latency {lat + 1} the log at t is not flagged")
        rest = check_log(spec, before, without)
        if isolated and rest:
            problems.append(f"{tag}: without this rule t - 1 is still flagged: {rest[0]}")
        if not isolated and not rest:
            problems.append(f"{tag}: expected another equal rule or the data bus to flag t - 1")
    return problems


def _unprobeable_problems(spec, c, listed) -> list:
    _presets, kind, _why = listed
    if kind == "latency":
        return [] if c.latency <= 0 else [f"listed as latency <= 0 but has {c.latency}"]
    problems = []
    if c.window:
        at, t0 = _window_events(spec, c, c.latency)
        v = check_log(spec, make_log(at))
        # the 5th ACT is still illegal at t, and not because of the window rule
        if not v or any(_names_rule(x, c, "ACT", "ACT", t0) for x in v):
            problems.append(f"listed as masked but the window probe works: {v}")
        return problems
    for p, f, pl, masking in _probe_pairs(spec, c):
        if pl is not None:
            problems.append(f"{p}->{f} is probeable ({pl.relation}): remove it from UNPROBEABLE")
            continue
        if masking is None:
            problems.append(f"{p}->{f}: no legal setup at all")
            continue
        v = check_log(spec, make_log(masking.events(p, f, c.latency)))
        # at t the following command is still illegal, because of a larger rule
        if not v or any(_names_rule(x, c, p, f, masking.t0) for x in v):
            problems.append(f"{p}->{f}: not masked at t: {v}")
    return problems


@pytest.mark.parametrize("preset,index", CASES)
def test_rule_is_violated_at_t_minus_1_and_met_at_t(preset, index):
    spec = SPECS[preset]
    rule, c = _rules_with_expressions(spec)[index]
    key = rule_key(rule)
    assert set(c.preceding) | set(c.following) <= set(DRAM_COMMANDS), \
        f"{key}: not a DRAM rule (PIM rules are not probed here)"
    listed = listed_for(key, preset)
    if listed is not None:
        assert _unprobeable_problems(spec, c, listed) == []
        return
    assert c.latency > 0, f"{preset} {key}: latency {c.latency} <= 0 cannot be probed: list it " \
        f"in UNPROBEABLE with the reason"
    assert probe(spec, index) == [], f"{preset} {key}: probe failed (if it cannot be probed on " \
        f"this preset, list it in UNPROBEABLE with the reason)"


@pytest.mark.parametrize("preset", PRESETS)
def test_probes_fail_when_one_latency_is_off_by_one(preset):
    """Each probe can fail: the checker given the rule's latency - 1 (or + 1) fails it."""
    spec = SPECS[preset]
    n = 0
    for index, (rule, c) in enumerate(_rules_with_expressions(spec)):
        if c.latency <= 0 or listed_for(rule_key(rule), preset) is not None:
            continue
        for delta in (-1, 1):
            cons = list(spec.constraints)
            cons[index] = replace(c, latency=c.latency + delta)
            assert probe(spec, index, cons), (rule_key(rule), delta)
        n += 1
    assert n >= 30


def test_every_rule_of_every_dram_preset_is_probed_or_listed():
    names = list_specs()
    assert {"hbm2", "hbm3", "gddr6", "lpddr5"} <= set(names)
    assert len(CASES) == sum(len(load_spec(name).constraints) for name in names)
    ids = [p.id for p in CASES]
    assert len(set(ids)) == len(ids), "rule ids must be unique"
    keys = {(name, rule_key(r)) for name in names for r, _ in _rules_with_expressions(SPECS[name])}
    for key, (presets, kind, why) in list(UNPROBEABLE.items()) + list(MORE_UNPROBEABLE.items()):
        assert kind in ("latency", "masked") and why
        for name in presets:
            assert (name, key) in keys, f"stale UNPROBEABLE entry {key} for {name}"


# ---------------------------------------------------------------------------------------------
# simulator probes: the controller issues `following` exactly t after `preceding`
# ---------------------------------------------------------------------------------------------

_TOKENS = {"Ro": "row", "Co": "column", "Ba": "bank", "Bg": "bank_group", "Ra": "rank",
           "Pc": "pseudo_channel", "Ch": "channel"}


def address(spec, bank, row, column=0):
    """Byte address of channel 0, ``bank`` = (rank, bank group, bank), with the spec's mapping
    (tokens most significant first, as documented in docs/dram.md)."""
    org = spec.org
    counts = {"channel": org.channels, "pseudo_channel": org.pseudo_channels, "rank": org.ranks,
              "bank_group": org.bank_groups, "bank": org.banks_per_group, "row": org.rows,
              "column": org.columns}
    value = {"channel": 0, "pseudo_channel": 0, "rank": bank[0], "bank_group": bank[1],
             "bank": bank[2], "row": row, "column": column}
    m = spec.controller.mapping
    x = 0
    for tok in (m[i:i + 2] for i in range(0, len(m), 2)):
        level = _TOKENS[tok]
        x = (x << (counts[level].bit_length() - 1)) | value[level]
    return x * org.access_bytes


def run(spec, requests):
    """Simulate ``[(arrival, 'R'|'W', bank, row, column)]``; returns the checked command log as
    ``[(cycle, command, bank, row)]``."""
    res = simulate(spec, [address(spec, b, row, col) for _, _, b, row, col in requests],
                   [rw == "W" for _, rw, _, _, _ in requests], [r[0] for r in requests], log=True)
    log = res.log
    assert check_log(spec, log) == []
    assert set(log.channel.tolist()) == {0}
    return [(cy, DRAM_COMMANDS[cmd], (r, g, b), row) for cy, cmd, r, g, b, row in
            zip(log.cycle.tolist(), log.command.tolist(), log.rank.tolist(),
                log.bank_group.tolist(), log.bank.tolist(), log.row.tolist())]


def find(events, cmd, bank=None, row=None, after=-1):
    """Cycle of the first ``cmd`` (to ``bank``/``row`` if given) issued after cycle ``after``."""
    for cy, c, b, r in events:
        if cy > after and c == cmd and (bank is None or b == bank) and (row is None or r == row):
            return cy
    raise AssertionError(f"no {cmd} to {bank} row {row} after {after} in {events}")


def _refresh_due(spec):
    """Cycle of the first refresh: nREFI, or per bank nREFIpb (default nREFI / banks)."""
    t = spec.timings
    if spec.controller.refresh == "per_bank":
        return t.get("nREFIpb", t["nREFI"] // spec.banks_per_rank)
    return t["nREFI"]


B_BG = (0, 1, 0)   # other bank group of A's rank
B_BA = (0, 0, 1)   # other bank of A's group
LATE = 1000        # cycle by which every setup request of a pattern is served


def _open(*banks):
    """Reads at cycle 0 that leave row 1 open in ``banks``."""
    return [(0, "R", b, 1, 0) for b in banks]


def _gap(events, p, f, bank_p, bank_f, row_p=None, row_f=None, after=-1):
    tp = find(events, p, bank_p, row_p, after)
    return find(events, f, bank_f, row_f, tp) - tp


# name -> (rule as (level, preceding command, following command, latency expression),
#          bank relation of following to preceding, controller settings, probe)
# Each probe returns the observed issue-cycle gap preceding -> following in the command log.
SIM_PROBES = {
    # one read to a closed bank: ACT, then RD as soon as nRCD allows
    "nRCD": (("bank", "ACT", "RD", ("nRCD",)), "same bank", {},
             lambda s: _gap(run(s, _open(A)), "ACT", "RD", A, A)),
    # one write to a closed bank: ACT, then WR as soon as the write-specific nRCDWR allows
    "nRCDWR": (("bank", "ACT", "WR", ("nRCDWR",)), "same bank", {},
               lambda s: _gap(run(s, [(0, "W", A, 1, 0)]), "ACT", "WR", A, A)),
    # two rows of one bank requested at once: the conflict PRE waits for nRAS (RD + nRTP is
    # earlier)
    "nRAS": (("bank", "ACT", "PRE", ("nRAS",)), "same bank", {},
             lambda s: _gap(run(s, [(0, "R", A, 1, 0), (0, "R", A, 2, 0)]), "ACT", "PRE", A, A)),
    # a conflicting read long after the ACT (nRC met): PRE at once, the ACT waits for nRP
    "nRP": (("bank", "PRE", "ACT", ("nRP",)), "same bank", {},
            lambda s: _gap(run(s, _open(A) + [(LATE, "R", A, 2, 0)]), "PRE", "ACT", A, A)),
    # closed-row policy: RDA right after nRCD, so ACT -> ACT of the bank waits for nRC
    "nRC": (("bank", "ACT", "ACT", ("nRC",)), "same bank", {"row_policy": "closed"},
            lambda s: _gap(run(s, [(0, "R", A, 1, 0), (0, "R", A, 2, 0)]), "ACT", "ACT", A, A)),
    # two closed banks requested at once
    "nRRD_S": (("rank", "ACT", "ACT", ("nRRD_S",)), "other bank group", {},
               lambda s: _gap(run(s, _open(A, B_BG)), "ACT", "ACT", A, B_BG)),
    "nRRD_L": (("bank_group", "ACT", "ACT", ("nRRD_L",)), "same bank group", {},
               lambda s: _gap(run(s, _open(A, B_BA)), "ACT", "ACT", A, B_BA)),
    # five closed banks requested at once: the 5th ACT waits for the window of the 1st
    "nFAW": (("rank", "ACT", "ACT", ("nFAW",)), "window", {},
             lambda s: _gap(run(s, _open(A, (0, 1, 0), (0, 2, 0), (0, 3, 0), B_BA)),
                            "ACT", "ACT", A, B_BA)),
    # two row hits in open banks requested at once
    "nCCD_S read": (("rank", "RD", "RD", ("nCCD_S",)), "other bank group", {},
                    lambda s: _gap(run(s, _open(A, B_BG) + [(LATE, "R", A, 1, 1),
                                                             (LATE, "R", B_BG, 1, 1)]),
                                   "RD", "RD", A, B_BG, after=LATE - 1)),
    "nCCD_L read": (("bank_group", "RD", "RD", ("nCCD_L",)), "same bank group", {},
                    lambda s: _gap(run(s, _open(A, B_BA) + [(LATE, "R", A, 1, 1),
                                                             (LATE, "R", B_BA, 1, 1)]),
                                   "RD", "RD", A, B_BA, after=LATE - 1)),
    "nCCD_S write": (("rank", "WR", "WR", ("nCCD_S",)), "other bank group", {},
                     lambda s: _gap(run(s, _open(A, B_BG) + [(LATE, "W", A, 1, 1),
                                                              (LATE, "W", B_BG, 1, 1)]),
                                    "WR", "WR", A, B_BG)),
    "nCCD_L write": (("bank_group", "WR", "WR", ("nCCD_L",)), "same bank group", {},
                     lambda s: _gap(run(s, _open(A, B_BA) + [(LATE, "W", A, 1, 1),
                                                              (LATE, "W", B_BA, 1, 1)]),
                                    "WR", "WR", A, B_BA)),
    # a write hit, then (arriving one cycle later, so the write drains first) a read hit
    "nWTR_S": (("rank", "WR", "RD", ("nCWL", "nBL", "nWTR_S")), "other bank group", {},
               lambda s: _gap(run(s, _open(A, B_BG) + [(LATE, "W", A, 1, 1),
                                                        (LATE + 1, "R", B_BG, 1, 1)]),
                              "WR", "RD", A, B_BG)),
    "nWTR_L": (("bank_group", "WR", "RD", ("nCWL", "nBL", "nWTR_L")), "same bank group", {},
               lambda s: _gap(run(s, _open(A, B_BA) + [(LATE, "W", A, 1, 1),
                                                        (LATE + 1, "R", B_BA, 1, 1)]),
                              "WR", "RD", A, B_BA)),
    # a read hit long after the ACT (tRAS met), plus a conflicting read: PRE waits for nRTP
    "nRTP": (("bank", "RD", "PRE", ("nRTP",)), "same bank", {},
             lambda s: _gap(run(s, _open(A) + [(LATE, "R", A, 1, 1), (LATE, "R", A, 2, 0)]),
                            "RD", "PRE", A, A, after=LATE - 1)),
    # the same with writes: PRE waits for write recovery
    "nWR": (("bank", "WR", "PRE", ("nCWL", "nBL", "nWR")), "same bank", {},
            lambda s: _gap(run(s, [(0, "W", A, 1, 0), (LATE, "W", A, 1, 1),
                                   (LATE, "W", A, 2, 0)]), "WR", "PRE", A, A, after=LATE - 1)),
    # a read hit, then (arriving one cycle later) a write hit: read-to-write turnaround
    "RD->WR turnaround": (("channel", "RD", "WR", ("nCL", "nBL", "nTA", "-nCWL")),
                          "other bank group", {},
                          lambda s: _gap(run(s, _open(A, B_BG) + [(LATE, "R", A, 1, 1),
                                                                   (LATE + 1, "W", B_BG, 1, 1)]),
                                         "RD", "WR", A, B_BG, after=LATE - 1)),
    # refresh: a request to a closed bank arriving one cycle after the refresh is due; the
    # refresh goes first (the first refresh is due at nREFI, per-bank at nREFIpb and to bank 0)
    "nRFC": (("rank", "REFab", "ACT", ("nRFC",)), "other bank group", {"refresh": "all_bank"},
             lambda s: _gap(run(s, [(_refresh_due(s) + 1, "R", B_BG, 1, 0)]),
                            "REFab", "ACT", A, B_BG)),
    "nRFCpb": (("bank", "REFpb", "ACT", ("nRFCpb",)), "same bank", {"refresh": "per_bank"},
               lambda s: _gap(run(s, [(_refresh_due(s) + 1, "R", A, 1, 0)]),
                              "REFpb", "ACT", A, A)),
    "nRREFD": (("rank", "REFpb", "ACT", ("nRREFD",)), "other bank group", {"refresh": "per_bank"},
               lambda s: _gap(run(s, [(_refresh_due(s) + 1, "R", B_BG, 1, 0)]),
                              "REFpb", "ACT", A, B_BG)),
}

#: (preset, probe) pairs whose rule is not the binding one on that preset, with the reason
SIM_NOT_BINDING = {
    ("hbm2", "nCCD_S read"): "nCCD_S = 1 < nBL = 2: the data bus binds RD -> RD",
    ("hbm2", "nCCD_S write"): "nCCD_S = 1 < nBL = 2: the data bus binds WR -> WR",
    ("gddr6", "nFAW"): "nFAW = 29 <= 4 x nRRD_S = 32: tRRD binds the 5th ACT",
    ("gddr6-aim", "nFAW"): "nFAW = 42 <= 4 x nRRD_S = 44: tRRD binds the 5th ACT",
    ("hbm2-2400", "nFAW"): "nFAW = 19 <= 4 x nRRD_S = 20: tRRD binds the 5th ACT",
    ("ddr4", "nFAW"): "the 4th read's RD (nRCD 22 + 3 x nCCD_S 4) takes cycle 34 = nFAW and a "
                      "row hit wins the tie for the one command slot: the 5th ACT goes at 35",
    ("ddr5", "nFAW"): "the 2nd read's RD (nRCD 24 + nCCD_S 8) takes cycle 32 = nFAW and a row hit "
                      "wins the tie for the one command slot: the 5th ACT goes at 33",
    ("ddr5", "nRRD_L"): "DDR5-3200 x8 nRRD_L = 5 < nRRD_S = 8: tRRD_S binds ACTs in a bank group",
    ("ddr5", "nCCD_L write"): "nCCD_L_WR = 16 > nCCD_L = 8 binds WR -> WR in a bank group",
}

# per-bank refresh probes only where the standard has REFpb (DDR4 has not)
SIM_CASES = [pytest.param(n, k, id=f"{n}-{k}") for n in PRESETS for k in SIM_PROBES
             if SIM_PROBES[k][2].get("refresh") != "per_bank" or "REFpb" in SPECS[n].command_set.id]


def _sim_rule(spec, rule):
    """The evaluated constraint of ``spec`` written as ``rule`` = (level, p, f, expression)."""
    level, p, f, expr = rule
    for (lv, pre, fol, ex, _win), c in _rules_with_expressions(spec):
        if lv == level and p in pre and f in fol and tuple(ex) == expr:
            return c
    raise AssertionError(f"{rule} is not a rule of {spec.name}")


@pytest.mark.parametrize("preset,name", SIM_CASES)
def test_controller_issues_following_exactly_at_t(preset, name):
    rule, rel, ctrl, measure = SIM_PROBES[name]
    spec = load_spec(preset, **{"refresh": "none", **OWN_BUS[preset], **ctrl})
    c = _sim_rule(spec, rule)
    gap = measure(spec)
    if (preset, name) in SIM_NOT_BINDING:
        assert gap > c.latency, f"{name} is listed as not binding on {preset} but the gap is t"
        return
    if rel == "window":
        # the 5th ACT waits for the window, not for 4 x the ACT -> ACT spacing
        assert c.latency >= 4 * pair_bound(spec, "ACT", "ACT", "other bank group")
    else:
        # the rule is the binding one among the rules for this pair of commands
        assert pair_bound(spec, rule[1], rule[2], rel) == c.latency
    assert gap == c.latency, f"{preset} {name}: {rule[1]} -> {rule[2]} issued {gap} cycles " \
        f"apart, rule says exactly {c.latency}"
