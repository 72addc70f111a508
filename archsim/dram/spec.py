"""DRAM spec YAML: organisation, timing, power and controller settings, validated on load.

A spec file (see ``archsim/presets/dram/*.yaml`` and ``docs/dram.md``) has the sections
``organization``, ``timing``, ``power`` and optionally ``controller``; each carries a ``source``
naming the datasheet, JEDEC standard or simulator configuration its values come from. A spec may
``extends: NAME`` another one (a preset name or a relative ``.yaml`` path) and override keys.

Timings are written either as integer cycles (``nCL: 14``) or as a time with a unit
(``nRFC: "350 ns"``); times are converted with JEDEC rounding ``ceil(t / tCK)`` (never rounded to
nearest), computed as ``ceil(t / tCK - 1e-9)`` so that float error (e.g. 3.9 us / 0.769 ns) cannot
add a cycle. Every error (unknown key, missing key, wrong unit, negative value) is a
:class:`~archsim.errors.ConfigError` naming file, line and key path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional

from ..config.presets import list_presets, locate
from ..config.schema import Ctx, from_located, param, quantity
from ..errors import ConfigError
from ..units import parse_quantity
from .constraints import ConstraintTables
from .standards import STANDARDS, CommandSet, evaluate_rules

#: HBM command buses: row commands and column commands (JESD235/JESD238)
ROW_COMMANDS = ("ACT", "PRE", "PREA", "REFab", "REFpb")
COLUMN_COMMANDS = ("RD", "WR", "RDA", "WRA")


@dataclass(frozen=True)
class TimingValue:
    """A timing parameter as written: integer cycles, or a duration in seconds."""

    cycles: Optional[int] = None
    seconds: Optional[float] = None

    @classmethod
    def __archsim_build__(cls, value, ctx: Ctx) -> "TimingValue":
        if isinstance(value, bool):
            raise ctx.error(f"expected integer cycles or a time with a unit, got {value!r}")
        if isinstance(value, int):
            if value < 0:
                raise ctx.error(f"negative timing {value}: expected cycles >= 0")
            return cls(cycles=value)
        if isinstance(value, float):
            raise ctx.error(f"non-integer cycle count {value!r}: write integer cycles or a time "
                            f"with a unit, e.g. \"{value} ns\"")
        try:
            seconds = parse_quantity(value, "time")
        except ConfigError as exc:
            raise ctx.error(exc.message) from None
        if seconds < 0:
            raise ctx.error(f"negative timing {value!r}: expected a duration >= 0")
        return cls(seconds=seconds)

    def to_cycles(self, tck_s: float) -> int:
        """Cycles, rounding a duration up with ``ceil(t / tCK)`` (JEDEC rounding)."""
        if self.cycles is not None:
            return self.cycles
        return max(0, math.ceil(self.seconds / tck_s - 1e-9))


def _tv(**kw):
    return param(**kw)


@dataclass(frozen=True)
class Organization:
    """Geometry of one device (JEDEC organisation table of the standard)."""

    channels: int = param(min=1, doc="independent channels per device/stack")
    bank_groups: int = param(min=1)
    banks_per_group: int = param(min=1)
    rows: int = param(min=1, doc="rows per bank")
    row_size_bytes: float = quantity("size", min=1, doc="row (page) size per (pseudo-)channel")
    bus_width_bits: int = param(min=1, doc="data bus width of one (pseudo-)channel")
    burst_length: int = param(min=1)
    source: str = param()
    pseudo_channels: int = param(default=1, min=1)
    ranks: int = param(default=1, min=1, doc="ranks / HBM3 stack IDs per channel")
    density_gbit: Optional[float] = param(default=None, min=0, doc="die density, informative")

    @property
    def access_bytes(self) -> int:
        return self.bus_width_bits * self.burst_length // 8

    @property
    def columns(self) -> int:
        """Column addresses per row, in units of one access (one burst)."""
        return int(self.row_size_bytes) // self.access_bytes

    def validate(self):
        for key in ("channels", "pseudo_channels", "ranks", "bank_groups", "banks_per_group",
                    "rows"):
            v = getattr(self, key)
            if v & (v - 1):
                return ((key,), f"{v} is not a power of two (address mapping needs bit fields)")
        if (self.bus_width_bits * self.burst_length) % 8:
            return ((), "bus_width_bits x burst_length must be a whole number of bytes")
        ab = self.access_bytes
        rs = int(self.row_size_bytes)
        if rs != self.row_size_bytes or rs % ab or (rs // ab) & (rs // ab - 1):
            return (("row_size",), f"row size {self.row_size_bytes:g} B must be a power-of-two "
                    f"multiple of the access size {ab} B (bus width x burst length)")
        return None


TIMING_NAMES = ("nBL", "nCL", "nCWL", "nRCD", "nRP", "nRAS", "nRC", "nWR", "nRTP", "nCCD_S",
                "nCCD_L", "nRRD_S", "nRRD_L", "nWTR_S", "nWTR_L", "nFAW", "nRFC", "nREFI")
OPTIONAL_TIMINGS = ("nRCDWR", "nCCD_L_WR", "nRPab", "nRFCpb", "nREFIpb", "nRREFD", "nPPD",
                    "nTA")


@dataclass(frozen=True)
class Timing:
    """Timing parameters (cycles of ``tCK``, or durations converted with ceil(t/tCK))."""

    tCK_s: float = quantity("time", min=0, min_exclusive=True, doc="command clock period")
    nBL: TimingValue = _tv(doc="data-bus cycles of one burst")
    nCL: TimingValue = _tv()
    nCWL: TimingValue = _tv()
    nRCD: TimingValue = _tv(doc="ACT to read (tRCDRD where the standard has two values)")
    nRP: TimingValue = _tv()
    nRAS: TimingValue = _tv()
    nRC: TimingValue = _tv()
    nWR: TimingValue = _tv()
    nRTP: TimingValue = _tv()
    nCCD_S: TimingValue = _tv()
    nCCD_L: TimingValue = _tv()
    nRRD_S: TimingValue = _tv()
    nRRD_L: TimingValue = _tv()
    nWTR_S: TimingValue = _tv()
    nWTR_L: TimingValue = _tv()
    nFAW: TimingValue = _tv()
    nRFC: TimingValue = _tv(doc="all-bank refresh cycle time")
    nREFI: TimingValue = _tv(doc="average refresh interval")
    source: str = param()
    nRCDWR: Optional[TimingValue] = param(default=None, doc="ACT to write, tRCDWR of "
                                          "JESD235/238/250 (default nRCD)")
    nCCD_L_WR: Optional[TimingValue] = param(default=None, doc="WR to WR in a bank group "
                                             "(DDR5 tCCD_L_WR; no rule when absent)")
    nRPab: Optional[TimingValue] = param(default=None, doc="all-bank precharge (default nRP)")
    nRFCpb: Optional[TimingValue] = param(default=None, doc="per-bank refresh cycle time")
    nREFIpb: Optional[TimingValue] = param(default=None, doc="per-bank refresh interval "
                                           "(default nREFI / banks per rank)")
    nRREFD: Optional[TimingValue] = param(default=None, doc="REFpb to REFpb/ACT, other bank")
    nPPD: Optional[TimingValue] = param(default=None, doc="PRE to PRE (HBM3, LPDDR5, DDR5)")
    nTA: TimingValue = param(default=TimingValue(cycles=2), doc="read-to-write bus turnaround")

    def cycles(self) -> dict:
        """All timings in integer cycles (optional ones filled with their defaults)."""
        out = {}
        for name in TIMING_NAMES + OPTIONAL_TIMINGS:
            v = getattr(self, name)
            if v is not None:
                out[name] = v.to_cycles(self.tCK_s)
        out.setdefault("nRPab", out["nRP"])
        out.setdefault("nRCDWR", out["nRCD"])
        out.setdefault("nPPD", 0)
        return out

    def validate(self):
        c = self.cycles()
        for name in ("nBL", "nCL", "nRCD", "nRP", "nRAS", "nRC", "nRFC", "nREFI", "nCCD_S",
                     "nCCD_L"):
            if c[name] < 1:
                return ((name,), f"{name} must be at least 1 cycle, got {c[name]}")
        if c["nRC"] < c["nRAS"]:
            return (("nRC",), f"nRC ({c['nRC']}) must be >= nRAS ({c['nRAS']})")
        if c["nREFI"] <= c["nRFC"]:
            return (("nREFI",), f"nREFI ({c['nREFI']}) must exceed nRFC ({c['nRFC']})")
        if (self.nRFCpb is None) != (self.nRREFD is None):
            return ((), "per-bank refresh needs both nRFCpb and nRREFD")
        return None


@dataclass(frozen=True)
class Power:
    """Supply voltage and IDD currents (per simulated channel), and I/O energy."""

    vdd_v: float = param(min=0, min_exclusive=True)
    idd0_ma: float = param(min=0, doc="one-bank ACT-PRE current")
    idd2n_ma: float = param(min=0, doc="precharge standby")
    idd3n_ma: float = param(min=0, doc="active standby")
    idd4r_ma: float = param(min=0, doc="burst read")
    idd4w_ma: float = param(min=0, doc="burst write")
    idd5ab_ma: float = param(min=0, doc="all-bank refresh")
    io_energy_j_per_bit: float = quantity("energy_per_bit", min=0, doc="I/O energy per bit")
    source: str = param()
    idd5pb_ma: Optional[float] = param(default=None, min=0, doc="per-bank refresh")


@dataclass(frozen=True)
class ControllerConfig:
    """Memory-controller settings (FR-FCFS scheduler, row policy, refresh, address mapping)."""

    queue_size: int = param(default=32, min=1, max=4096, doc="entries per read and write queue")
    row_policy: Literal["open", "closed"] = param(default="open")
    refresh: Literal["per_bank", "all_bank", "none"] = param(default="all_bank")
    mapping: str = param(default="RoBaCoBgRaPcCh", doc="address bits, most significant first")
    write_high_watermark: float = param(default=0.8, min=0, max=1)
    write_low_watermark: float = param(default=0.2, min=0, max=1)
    row_hit_cap: int = param(default=16, min=1, doc="row hits served before a conflicting "
                             "request may close the row")
    pseudo_channel_buses: Literal["independent", "shared"] = param(
        default="independent", doc="HBM: 'shared' runs the pseudo-channels of a channel on one "
        "controller and command bus (JESD235/238: they share the row and column command "
        "buses); 'independent' gives each its own")
    refresh_hit_wait: float = param(default=1.0, min=0, max=8, doc="refresh intervals a due "
                                    "refresh waits for queued hits to the rows it would close "
                                    "(JEDEC allows postponing up to 8 refreshes)")

    def validate(self):
        from .mapping import parse_mapping
        try:
            parse_mapping(self.mapping)
        except ValueError as exc:
            return (("mapping",), str(exc))
        if self.write_low_watermark >= self.write_high_watermark:
            return (("write_low_watermark",), "must be below write_high_watermark")
        return None


@dataclass(frozen=True)
class DramSpecConfig:
    """A DRAM spec file: standard, organisation, timing, power, controller defaults."""

    _preset_category = "dram"

    name: str = param()
    standard: Literal["HBM2", "HBM3", "GDDR6", "LPDDR5", "DDR4", "DDR5"] = param()
    source: str = param()
    organization: Organization = param()
    timing: Timing = param()
    power: Power = param()
    controller: ControllerConfig = param(default_factory=ControllerConfig)
    notes: Optional[str] = param(default=None)

    def validate(self):
        if self.controller.refresh == "per_bank" and self.timing.nRFCpb is None:
            return (("controller", "refresh"), "per-bank refresh needs timing.nRFCpb and "
                    "timing.nRREFD")
        return _shared_bus_problem(self.controller, self.organization, self.standard)


def _shared_bus_problem(ctrl, org, standard):
    if ctrl.pseudo_channel_buses == "shared":
        if not standard.startswith("HBM"):
            return (("controller", "pseudo_channel_buses"), f"shared pseudo-channel buses are "
                    f"an HBM feature; {standard} has no pseudo-channels")
        if org.ranks > 1:
            return (("controller", "pseudo_channel_buses"), "shared pseudo-channel buses with "
                    "more than one rank (stack ID) per channel are not modelled")
    return None


@dataclass(frozen=True)
class DramSpec:
    """A loaded, validated spec with integer timings and constraint tables (no side effects)."""

    config: DramSpecConfig
    timings: dict = field(hash=False, compare=False)
    constraints: tuple = field(hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def org(self) -> Organization:
        return self.config.organization

    @property
    def tck_s(self) -> float:
        return self.config.timing.tCK_s

    @property
    def controller(self) -> ControllerConfig:
        return self.config.controller

    @property
    def n_channels(self) -> int:
        """Independently simulated channels (channels x pseudo-channels)."""
        return self.org.channels * self.org.pseudo_channels

    @property
    def banks_per_rank(self) -> int:
        return self.org.bank_groups * self.org.banks_per_group

    @property
    def capacity_bytes(self) -> int:
        """Bytes addressable on the device (all channels, ranks, banks, rows)."""
        o = self.org
        return self.n_channels * o.ranks * self.banks_per_rank * o.rows * int(o.row_size_bytes)

    @property
    def command_set(self) -> CommandSet:
        """The standard's commands (names, scopes, bus use; ids = indices)."""
        return STANDARDS[self.config.standard].command_set

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        """All channels streaming one burst every nBL cycles."""
        return self.n_channels * self.org.access_bytes / (self.timings["nBL"] * self.tck_s)

    def with_controller(self, **changes) -> "DramSpec":
        """A copy with controller settings replaced (validated)."""
        import dataclasses
        ctrl = dataclasses.replace(self.controller, **changes)
        problem = ctrl.validate()
        if problem:
            raise ConfigError(problem[1], key="controller." + ".".join(problem[0]))
        if ctrl.refresh == "per_bank" and self.config.timing.nRFCpb is None:
            raise ConfigError("per-bank refresh needs timing.nRFCpb", key="controller.refresh")
        problem = _shared_bus_problem(ctrl, self.org, self.config.standard)
        if problem:
            raise ConfigError(problem[1], key=".".join(problem[0]))
        return build_spec(dataclasses.replace(self.config, controller=ctrl), self.constraints_extra)

    constraints_extra: tuple = field(default=(), hash=False, compare=False)
    #: the constraints as kernel arrays, built at load (derived data, never mutated)
    tables: ConstraintTables = field(init=False, repr=False, hash=False, compare=False)

    def __post_init__(self):
        # derived data computed once at load; the spec stays immutable
        object.__setattr__(self, "tables", ConstraintTables.build(self.constraints,
                                                                  self.command_set))

    @property
    def shared_pc_constraints(self) -> tuple:
        """The constraints of one HBM channel whose pseudo-channels share its command buses
        (JESD235/JESD238: one row and one column command bus per channel), with each
        pseudo-channel in the place of a rank: the data-bus (channel) rules move to the
        pseudo-channel; on the channel, one row command and one column command per cycle, and
        an ACT holds the row bus 2 cycles (ACT takes two clocks; Ramulator 2 HBM2.cpp /
        HBM3.cpp "2-cycle ACT command" rule)."""
        from .standards import Constraint
        moved = tuple(Constraint("rank" if c.level == "channel" else c.level, c.preceding,
                                 c.following, c.latency, c.window) for c in self.constraints)
        row = tuple(n for n in ROW_COMMANDS if n in self.command_set.id)
        col = tuple(n for n in COLUMN_COMMANDS if n in self.command_set.id)
        return moved + (Constraint("channel", row, row, 1, 0),
                        Constraint("channel", ("ACT",), row, 2, 0),
                        Constraint("channel", col, col, 1, 0))

    @property
    def shared_pc_tables(self) -> ConstraintTables:
        """:attr:`shared_pc_constraints` as kernel arrays (built on first use)."""
        tb = self.__dict__.get("_shared_pc_tables")
        if tb is None:
            tb = ConstraintTables.build(self.shared_pc_constraints, self.command_set)
            object.__setattr__(self, "_shared_pc_tables", tb)
        return tb


def build_spec(config: DramSpecConfig, extra_rules: tuple = ()) -> DramSpec:
    """Evaluate the standard's rules (plus ``extra_rules``) for ``config``."""
    std = STANDARDS[config.standard]
    timings = config.timing.cycles()
    rules = tuple(r for r in std.rules if _rule_applies(r, timings)) + tuple(extra_rules)
    cons = evaluate_rules(rules, timings)
    return DramSpec(config, timings, cons, tuple(extra_rules))


def _rule_applies(rule, timings) -> bool:
    names = [t.lstrip("-") for t in rule[3] if isinstance(t, str)]
    return all(n in timings for n in names)


def load_spec(spec, **controller) -> DramSpec:
    """Load a DRAM spec from a preset name, a YAML path or :class:`Located` data.

    Parameters
    ----------
    spec : str, os.PathLike or Located
        ``"hbm2"`` (a preset in ``archsim/presets/dram``) or ``"path/to/spec.yaml"``.
    **controller
        Overrides of :class:`ControllerConfig` fields (``mapping=``, ``row_policy=``...).

    Raises
    ------
    ConfigError
        On any invalid value, with file, line and key path.
    """
    cfg = from_located(DramSpecConfig, locate(spec, "dram", what="DRAM spec"))
    out = build_spec(cfg)
    return out.with_controller(**controller) if controller else out


def list_specs() -> list:
    """Names of the DRAM spec presets."""
    return list_presets("dram")
