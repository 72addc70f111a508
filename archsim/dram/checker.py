"""Independent timing checker: replay an issued-command log and verify every rule of the standard.

Deliberately simple, separate from the controller kernel (dicts keyed by node tuples, no tables
shared with the kernel beyond the spec's evaluated :class:`~archsim.dram.standards.Constraint`
list). It checks, per channel:

* every timing constraint ``{level, preceding, following, latency}``: the last ``preceding``
  command issued to any node at ``level`` that the new command touches is at least ``latency``
  cycles earlier; a command scoped to a rank (PREA, REFab, ACTAB, MACAB) touches every bank of it;
* rolling windows (tFAW): at most ``window`` ``preceding`` commands in any ``latency`` cycles;
* bank-state legality, from each command's ``needs``/``then`` in the spec's command set
  (:class:`~archsim.dram.standards.Command`): ACT only to a closed bank, RD/WR only to an open
  bank and the open row, PRE only to an open bank, REFab only with all banks of the rank closed,
  REFpb only to a closed bank (and, for a PIM spec, ACTAB with all banks closed, MACAB with all
  open);
* the data bus: bursts never overlap, and a change of direction leaves ``nTA`` idle cycles;
* one command per cycle, cycles non-decreasing;
* refresh: no bank goes more than ``9 x nREFI`` without a refresh (JEDEC allows postponing 8).

Besides the simulator's rules (``spec.constraints``) it checks a second table written apart
from the JEDEC parameter definitions (:mod:`archsim.dram.jedec`), so that a rule the
simulator's table lacks is still caught.

Command names, scopes and data-bus use come from ``spec.command_set``, so a spec that extends
the command set (PIM) is checked by the same code. Used by the tests on random, streaming and
adversarial traffic and on PIM command streams.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from .spec import ROW_COMMANDS


#: row-bus commands (the PIM ACTAB opens rows too); every other command is a column command
_ROW = ROW_COMMANDS + ("ACTAB",)
_SCOPE_DEPTH = {"channel": 0, "rank": 1, "bank_group": 2, "bank": 3}


@dataclass(frozen=True)
class Violation:
    """One broken rule: where in the log, and which rule."""

    index: int
    cycle: int
    channel: int
    command: str
    message: str

    def __str__(self) -> str:
        return (f"log[{self.index}] cycle {self.cycle} channel {self.channel} {self.command}: "
                f"{self.message}")


class _ChannelChecker:
    def __init__(self, spec, channel, constraints):
        self.spec = spec
        self.channel = channel
        org = spec.org
        self.nbg, self.nba = org.bank_groups, org.banks_per_group
        self.t = spec.timings
        self.commands = spec.command_set.by_name
        self.by_following = defaultdict(list)
        for c in constraints:
            for f in c.following:
                self.by_following[f].append(c)
        self.last = {}                   # (command, node) -> last cycle
        self.window_hist = defaultdict(deque)  # (constraint id, node) -> cycles
        self.open = {}                   # (rank, bg, bank) -> row
        self.last_cycle = -1
        self.bus_end = -10 ** 18
        self.bus_dir = None
        self.last_ref = {}               # (rank, bg, bank) -> cycle of last refresh
        self.violations = []
        # HBM pseudo-channels on shared, separate row and column command buses: a row and a
        # column command may share a cycle; so may they in a PIM stream that spans a legacy
        # HBM channel (all-bank scope "channel": the channel's row and column buses)
        dram = getattr(spec, "dram", spec)
        shared = getattr(getattr(dram, "controller", None), "pseudo_channel_buses",
                         "") == "shared"
        self.two_buses = shared and (spec.org.pseudo_channels > 1 if dram is spec else
                                     getattr(spec, "allbank_scope", "") == "channel")
        self.last_bus = {}

    # nodes at `level` touched by a command of scope `scope` at address (r, g, b)
    def nodes(self, level, scope, r, g, b):
        if level == "channel":
            return [("c",)]
        depth = _SCOPE_DEPTH[scope]
        if level == "rank":
            return [("r", r)] if depth >= 1 else [("r", rr) for rr in range(self.spec.org.ranks)]
        ranks = [r] if depth >= 1 else range(self.spec.org.ranks)
        if level == "bank_group":
            if depth >= 2:
                return [("g", r, g)]
            return [("g", rr, gg) for rr in ranks for gg in range(self.nbg)]
        if depth >= 3:
            return [("b", r, g, b)]
        groups = [g] if depth >= 2 else range(self.nbg)
        return [("b", rr, gg, bb) for rr in ranks for gg in groups for bb in range(self.nba)]

    def banks(self, scope, r, g, b):
        return [n[1:] for n in self.nodes("bank", scope, r, g, b)]

    def fail(self, i, cyc, cmd, msg):
        v = Violation(i, cyc, self.channel, cmd, msg)
        if v not in self.violations[-4:]:   # both tables may name the same rule
            self.violations.append(v)

    def step(self, i, cyc, cmd, r, g, b, row):
        spec_cmd = self.commands[cmd]
        scope = spec_cmd.scope
        if self.two_buses:
            bus = "row" if cmd in _ROW else "column"
            if cyc < self.last_cycle or cyc <= self.last_bus.get(bus, -1):
                self.fail(i, cyc, cmd, f"issued before the previous command or in the same "
                          f"cycle as the previous {bus} command: one per bus per cycle")
            self.last_bus[bus] = cyc
        elif cyc <= self.last_cycle:
            self.fail(i, cyc, cmd, f"issued at or before the previous command (cycle "
                      f"{self.last_cycle}): one command per cycle")
        self.last_cycle = cyc
        # timing constraints
        for c in self.by_following.get(cmd, ()):
            for node in self.nodes(c.level, scope, r, g, b):
                if c.window:
                    hist = self.window_hist[(id(c), node)]
                    if len(hist) >= c.window and cyc - hist[-c.window] < c.latency:
                        self.fail(i, cyc, cmd, f"more than {c.window} x {'/'.join(c.preceding)} "
                                  f"in {c.latency} cycles at {c.level} {node[1:]}")
                    continue
                for p in c.preceding:
                    tp = self.last.get((p, node))
                    if tp is not None and cyc - tp < c.latency:
                        self.fail(i, cyc, cmd, f"{p}@{tp} -> {cmd} at {c.level} {node[1:]}: "
                                  f"{cyc - tp} < {c.latency} cycles")
        # bank state
        self.state(i, cyc, spec_cmd, r, g, b, row)
        # data bus
        if spec_cmd.bus is not None:
            lat_name, direction = spec_cmd.bus
            start = cyc + self.t[lat_name]
            gap = self.t["nTA"] if (self.bus_dir is not None and direction != self.bus_dir) else 0
            if start < self.bus_end + gap:
                self.fail(i, cyc, cmd, f"data burst at {start} overlaps the bus (free at "
                          f"{self.bus_end}, +{gap} turnaround)")
            self.bus_end = max(self.bus_end, start + self.t["nBL"])
            self.bus_dir = direction
        # record this command at every node it touches (all levels)
        for level in ("channel", "rank", "bank_group", "bank"):
            for node in self.nodes(level, scope, r, g, b):
                self.last[(cmd, node)] = cyc
        for c in self._window_constraints_with_pre(cmd):
            for node in self.nodes(c.level, scope, r, g, b):
                self.window_hist[(id(c), node)].append(cyc)

    def _window_constraints_with_pre(self, cmd):
        cache = getattr(self, "_wcache", None)
        if cache is None:
            cache = self._wcache = defaultdict(list)
            seen = set()
            for cs in self.by_following.values():
                for c in cs:
                    if c.window and id(c) not in seen:
                        seen.add(id(c))
                        for p in c.preceding:
                            cache[p].append(c)
        return cache.get(cmd, ())

    def state(self, i, cyc, spec_cmd, r, g, b, row):
        """Bank-state legality of ``spec_cmd`` (its ``needs``) and its effect (``then``)."""
        op = self.open
        cmd = spec_cmd.name
        banks = self.banks(spec_cmd.scope, r, g, b)
        one = spec_cmd.scope == "bank"
        need = spec_cmd.needs
        if need == "closed":
            still = [bk for bk in banks if bk in op]
            if still and one:
                self.fail(i, cyc, cmd, f"{cmd} to bank {still[0]} with row {op[still[0]]} open")
            elif still:
                self.fail(i, cyc, cmd, f"{cmd} with bank(s) {still[:3]} open")
        elif need in ("open", "open_row"):
            closed = [bk for bk in banks if bk not in op]
            if closed and one:
                self.fail(i, cyc, cmd, f"{cmd} to closed bank {closed[0]}")
            elif closed:
                self.fail(i, cyc, cmd, f"{cmd} with closed bank(s) {closed[:3]}")
            if need == "open_row" and row >= 0:
                for bk in banks:
                    if bk in op and op[bk] != row:
                        self.fail(i, cyc, cmd, f"{cmd} to row {row} of bank {bk} but row "
                                  f"{op[bk]} is open")
        then = spec_cmd.then
        if then == "open":
            for bk in banks:
                op[bk] = row
        elif then == "close":
            for bk in banks:
                op.pop(bk, None)
        elif then == "refresh":
            for bk in banks:
                self.refreshed(i, cyc, cmd, bk)

    def refreshed(self, i, cyc, cmd, bank):
        limit = 9 * self.t["nREFI"]
        prev = self.last_ref.get(bank, 0)
        if cyc - prev > limit:
            self.fail(i, cyc, cmd, f"bank {bank} went {cyc - prev} cycles without refresh "
                      f"(> 9 x nREFI = {limit})")
        self.last_ref[bank] = cyc


def check_log(spec, log, constraints=None, *, max_violations: int = 100) -> list:
    """Replay ``log`` (a :class:`~archsim.dram.controller.CommandLog`) against ``spec``.

    Parameters
    ----------
    spec : DramSpec or PimSpec
        Provides the organisation, integer timings and the constraint list.
    constraints : sequence of Constraint, optional
        Check exactly these. Default: ``spec.constraints`` and the independent JEDEC table
        (:func:`archsim.dram.jedec.jedec_constraints`).

    Returns
    -------
    list of Violation
        Empty when the log is legal (at most ``max_violations`` are collected).
    """
    if constraints is None:
        from .jedec import jedec_constraints
        standard = getattr(spec, "dram", spec).config.standard
        cons = tuple(spec.constraints) + jedec_constraints(standard, spec.timings,
                                                           spec.command_set.names)
    else:
        cons = constraints
    names = spec.command_set.names
    checkers = {}
    out = []
    cyc, cmdv, chv = log.cycle.tolist(), log.command.tolist(), log.channel.tolist()
    rv, gv, bv, rowv = log.rank.tolist(), log.bank_group.tolist(), log.bank.tolist(), \
        log.row.tolist()
    for i in range(len(cyc)):
        ch = chv[i]
        ck = checkers.get(ch)
        if ck is None:
            ck = checkers[ch] = _ChannelChecker(spec, ch, cons)
        ck.step(i, cyc[i], names[cmdv[i]], rv[i], gv[i], bv[i], rowv[i])
        if len(ck.violations) >= max_violations:
            break
    for ck in checkers.values():
        out.extend(ck.violations)
    if getattr(getattr(spec, "controller", None), "pseudo_channel_buses", "") == "shared":
        out.extend(_shared_bus_violations(spec, log, names))
    return out[:max_violations]


def _shared_bus_violations(spec, log, names) -> list:
    """Pseudo-channels of one HBM channel share its row and its column command bus
    (JESD235/JESD238): one command per bus per cycle on the channel, and an ACT holds the row
    bus for 2 cycles."""
    pcs = spec.org.pseudo_channels
    out = []
    phys = (log.channel // pcs).tolist()
    order = sorted(range(len(phys)), key=lambda i: (phys[i], int(log.cycle[i])))
    last = {}   # (physical channel, bus) -> cycle of its previous command
    last_act = {}
    for i in order:
        ch, cyc, cmd = phys[i], int(log.cycle[i]), names[int(log.command[i])]
        bus = "row" if cmd in ROW_COMMANDS else "column"
        if last.get((ch, bus)) == cyc:
            out.append(Violation(i, cyc, int(log.channel[i]), cmd, f"two commands in cycle "
                                 f"{cyc} on the {bus} command bus shared by channel {ch}'s "
                                 f"pseudo-channels"))
        ta = last_act.get(ch)
        if bus == "row" and ta is not None and cyc - ta < 2:
            out.append(Violation(i, cyc, int(log.channel[i]), cmd, f"ACT@{ta} -> {cmd} on the "
                                 f"row command bus of channel {ch}: {cyc - ta} < 2 cycles"))
        last[(ch, bus)] = cyc
        if cmd == "ACT":
            last_act[ch] = cyc
    return out
