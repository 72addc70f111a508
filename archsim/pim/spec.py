"""PIM configuration: MAC units, global buffer, PIM timings, organisation override, energy.

A PIM YAML file (``archsim/presets/pim/*.yaml``) names a DRAM spec (``dram:``) and adds the MAC
units (``mac:``), the per-channel global buffer, the PIM command timings (``timing:``) and, when
the PIM system differs from one DRAM part, an ``organization:`` override (e.g. ``channels: 8``
for PIM-GPT's 8 channels). The DRAM spec is re-loaded with the override merged in (``extends``),
so its timings and currents stay those of the named spec. Every error names file, line and key.

Energy (:meth:`PimSpec.energy_table`): ACTAB = banks x ACT, WRGB = WR, RDMAC = RD from the DRAM
core's IDD table. A MACAB is every bank's internal column read plus every unit's lane MACs. By
default the column read is priced as a full read (IDD4R, :mod:`archsim.dram.energy`), an upper
bound: IDD4R includes the path to the pins. ``mac.macab_energy`` (with ``macab_energy_source``)
sets the energy of the whole all-bank MAC command instead (column reads + lane MACs, all banks of
a channel); the column-read part is then ``macab_energy`` minus the lane MACs.

The PIM commands and timing rules are in :mod:`archsim.pim.commands`. Per-dtype timings and
constraint tables are computed once per (spec identity, dtype) and kept in a module-level memo
(:func:`constraints_for`); the specs themselves are immutable.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal, Optional

from ..config.presets import list_presets, locate
from ..config.schema import from_located, param, quantity
from ..errors import ConfigError
from ..dram.constraints import ConstraintTables
from ..dram.energy import EnergyTable, energy_table
from ..dram.spec import DramSpec, TimingValue, build_spec, load_spec
from ..dram.standards import CommandSet, evaluate_rules
from ..dtypes import dtype_bytes
from .commands import PIM_RULES, pim_command_set

#: element types the MAC units may compute in
PIM_DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8")
#: bytes per element (widths from :data:`archsim.dtypes.DTYPE_BITS`)
DTYPE_BYTES = {name: dtype_bytes(name) for name in PIM_DTYPES}

@dataclass(frozen=True)
class MacUnits:
    """The MAC units: where they sit, how wide, what type, how fast."""

    unit_level: Literal["bank", "bank_pair", "bank_group"] = param()
    lanes: int = param(min=1)
    dtype: Literal[PIM_DTYPES] = param()
    clock_hz: float = quantity("frequency", min=0, min_exclusive=True)
    mac_energy_j_per_flop: float = quantity("energy_per_flop", min=0,
                                            doc="energy of one lane MAC (write as pJ/MAC)")
    source: str = param()
    result_bytes: int = param(default=4, min=1, doc="bytes per unit result register read out")
    macab_energy_j: Optional[float] = quantity(
        "energy", default=None, min=0,
        doc="energy of one all-bank MAC command (all banks of a channel: column reads + lane "
        "MACs); default: every bank's column read priced as a full DRAM read (IDD4R)")
    macab_energy_source: Optional[str] = param(default=None)

    def validate(self):
        if (self.macab_energy_j is None) != (self.macab_energy_source is None):
            return (("macab_energy_source",), "macab_energy and macab_energy_source go together "
                    "(every energy figure carries its source)")
        return None


@dataclass(frozen=True)
class PimTiming:
    """PIM command timings in DRAM cycles (or durations, converted with ceil(t/tCK))."""

    nRCD_AB: TimingValue = param(doc="ACTAB to MACAB")
    nCCD_AB: TimingValue = param(doc="MACAB to MACAB (power-limited variants use more)")
    nMAC_RD: TimingValue = param(doc="MACAB to RDMAC (MAC pipeline)")
    nWRGB_MAC: TimingValue = param(doc="WRGB to MACAB")
    source: str = param()
    nRC_AB: Optional[TimingValue] = param(default=None, doc="ACTAB to ACTAB (default nRC)")
    nMACAB_PRE: Optional[TimingValue] = param(default=None, doc="MACAB to PREA (default nRTP)")


@dataclass(frozen=True)
class PimOrganization:
    """Overrides of the organisation of the DRAM spec a PIM config names (in a PIM config, or
    in a ``pim`` device of a hardware config)."""

    source: str = param()
    channels: Optional[int] = param(default=None, min=1, doc="channels working in parallel")
    ranks: Optional[int] = param(default=None, min=1, doc="ranks (HBM3 stack IDs) per "
                                 "(pseudo-)channel")
    rows: Optional[int] = param(default=None, min=1, doc="rows per bank")

    def validate(self):
        for key in ("channels", "ranks", "rows"):
            c = getattr(self, key)
            if c is not None and c & (c - 1):
                return ((key,), f"{c} is not a power of two (address mapping needs bit fields)")
        return None


@dataclass(frozen=True)
class PimMapping:
    """How a PIM design lays out its work, as data (``mapping:`` of a PIM config).

    ``allbank_scope`` is the set of banks one all-bank command (ACTAB, MACAB, PREA) drives:
    ``pseudo_channel`` (every rank of one pseudo-channel; one rank: GDDR6-AiM, PIM-GPT) or
    ``channel`` (every pseudo-channel and rank of a legacy HBM channel: AttAcc's 2 x 2 x 16 = 64
    banks). The scope is the unit the command streams are simulated on. ``attention`` names the
    attention mapping ``archsim pim-attention`` uses when ``--mapping`` is not given.
    ``gemv_split``, ``result_registers`` and ``accumulate_across_rows`` lay out a GEMV
    (:func:`archsim.pim.gemv.gemv_stream`); their defaults are one result read per DRAM row and
    matrix rows dealt over the channels.
    """

    source: str = param()
    allbank_scope: Literal["pseudo_channel", "channel"] = param(default="pseudo_channel")
    attention: Optional[str] = param(default=None, doc="default attention mapping "
                                     "(per_head, concat_heads, head_per_channel, attacc)")
    # GEMV layout and result handling (archsim.pim.gemv; the defaults are the stream before
    # these keys existed: rows dealt over channels, a result read per DRAM row)
    gemv_split: Literal["rows", "cols"] = param(
        default="rows", doc="how a GEMV matrix is split over the channels: rows (each channel "
        "a share of the output rows, whole reduction) or cols (each channel every row and a "
        "share of the reduction; the host adds the channels' partial sums)")
    context_split: Optional[Literal["rows", "cols"]] = param(
        default=None, doc="gemv_split of the attention-context GEMVs (V^T p: rows = head "
        "dimensions, cols = tokens); default gemv_split")
    result_registers: int = param(default=1, min=1, doc="result registers per MAC unit a GEMV "
                                  "uses: that many row groups MAC into their own registers "
                                  "before their results are read back to back")
    accumulate_across_rows: bool = param(default=False, doc="a unit's result register keeps "
                                         "accumulating across PREA/ACTAB: a matrix row longer "
                                         "than a DRAM row is read out once, when finished")


@dataclass(frozen=True)
class PimConfig:
    """A PIM YAML file: the DRAM part, the MAC units, the buffer and the PIM timings."""

    _preset_category = "pim"

    name: str = param()
    source: str = param()
    dram: str = param(doc="DRAM spec preset name or .yaml path (relative to this file)")
    mac: MacUnits = param()
    global_buffer_bytes: float = quantity("size", min=1)
    timing: PimTiming = param()
    refresh: bool = param(default=True, doc="insert all-bank refresh every nREFI")
    organization: Optional[PimOrganization] = param(default=None)
    mapping: Optional[PimMapping] = param(default=None)
    notes: Optional[str] = param(default=None)


class SpecKey:
    """A hashable identity of a loaded spec: its validated configs (frozen dataclasses), with the
    hash computed once (memo lookups hash it on every GEMV call)."""

    __slots__ = ("value", "_hash")

    def __init__(self, value: tuple) -> None:
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return self is other or (isinstance(other, SpecKey) and self._hash == other._hash
                                 and self.value == other.value)

    def __repr__(self) -> str:
        return f"SpecKey({self._hash:#x})"


@dataclass(frozen=True)
class PimSpec:
    """A loaded PIM configuration with its DRAM spec (no side effects, immutable).

    ``key`` identifies it for memoization: the PIM config and the DRAM config it runs on.
    """

    config: PimConfig
    dram: DramSpec = field(compare=False)
    key: SpecKey = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "key", SpecKey((self.config, self.dram.config)))

    # --- what the checker and kernels need (same names as DramSpec) -----------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def allbank_scope(self) -> str:
        m = self.config.mapping
        return "pseudo_channel" if m is None else m.allbank_scope

    @property
    def stream_ranks(self) -> int:
        """Ranks one all-bank command covers: the ranks of a pseudo-channel, or, with a
        channel-wide scope, pseudo-channels x ranks of a legacy channel."""
        o = self.dram.org
        return o.ranks * (o.pseudo_channels if self.allbank_scope == "channel" else 1)

    @property
    def org(self):
        """The organisation of one simulated stream (the all-bank scope): its ranks are the
        ranks the all-bank commands cover (pseudo-channels folded in as ranks under a
        channel-wide scope), its channels the streams working in parallel."""
        o = self.dram.org
        if self.allbank_scope == "pseudo_channel" and o.ranks == 1:
            return o
        return dataclasses.replace(o, channels=self.n_channels, pseudo_channels=1,
                                   ranks=self.stream_ranks)

    @property
    def command_set(self) -> CommandSet:
        """The DRAM standard's commands followed by the PIM commands (all-bank commands widened
        to every rank of the stream when it has more than one)."""
        return pim_command_set(self.dram.command_set, self.stream_ranks > 1)

    def with_channels(self, channels: int, source: str) -> "PimSpec":
        """A copy on ``channels`` channels (the DRAM organisation overridden)."""
        org = PimOrganization(source=source, channels=int(channels))
        return PimSpec(self.config, with_organization(self.dram, org))

    @property
    def tck_s(self) -> float:
        return self.dram.tck_s

    @property
    def n_channels(self) -> int:
        """Streams working in parallel: (pseudo-)channels, or legacy channels under a
        channel-wide all-bank scope."""
        if self.allbank_scope == "channel":
            return self.dram.org.channels
        return self.dram.n_channels

    @property
    def banks_per_rank(self) -> int:
        """Banks one all-bank command drives (every bank of every rank of the stream)."""
        return self.dram.banks_per_rank * self.stream_ranks

    @property
    def banks_per_unit(self) -> int:
        lv = self.config.mac.unit_level
        return {"bank": 1, "bank_pair": 2, "bank_group": self.org.banks_per_group}[lv]

    @property
    def units_per_channel(self) -> int:
        return self.banks_per_rank // self.banks_per_unit

    @property
    def peak_macs_per_s(self) -> float:
        m = self.config.mac
        return self.n_channels * self.units_per_channel * m.lanes * m.clock_hz

    @property
    def peak_flops(self) -> float:
        """2 FLOP per MAC x lanes x units x channels x MAC clock."""
        return 2.0 * self.peak_macs_per_s

    def timings_for(self, dtype: str) -> dict:
        t = dict(self.dram.timings)
        pt = self.config.timing
        for name in ("nRCD_AB", "nCCD_AB", "nMAC_RD", "nWRGB_MAC", "nRC_AB", "nMACAB_PRE"):
            v = getattr(pt, name)
            if v is not None:
                t[name] = v.to_cycles(self.tck_s)
        t.setdefault("nRC_AB", t["nRC"])
        t.setdefault("nMACAB_PRE", t["nRTP"])
        # the MAC units' own rate: one access holds access_bytes/dtype elements for `lanes` lanes
        m = self.config.mac
        elems = self.org.access_bytes // DTYPE_BYTES[dtype]
        mac_s = math.ceil(elems / m.lanes) / m.clock_hz
        t["nCCD_AB_eff"] = max(t["nCCD_AB"], math.ceil(mac_s / self.tck_s - 1e-9))
        return t

    def constraints_for(self, dtype: str) -> tuple:
        """``(timings, constraints, ConstraintTables)`` for ``dtype`` (memoized per identity)."""
        return constraints_for(self, dtype)

    # checker interface for the default dtype
    @property
    def timings(self) -> dict:
        return self.constraints_for(self.config.mac.dtype)[0]

    @property
    def constraints(self) -> tuple:
        return self.constraints_for(self.config.mac.dtype)[1]

    def energy_table(self, dtype: str) -> EnergyTable:
        """Per-command energy (pJ) of the all-bank commands, from the DRAM IDD table; REFab
        and the background per stream (every rank the stream covers)."""
        base = energy_table(self.dram)
        nb = self.banks_per_rank
        per = dict(base.per_command_pj)
        elems = self.org.access_bytes // DTYPE_BYTES[dtype]
        mac_pj = self.config.mac.mac_energy_j_per_flop * 2 * 1e12  # per MAC
        per["ACTAB"] = nb * base.per_command_pj["ACT"]
        # every bank reads one access internally (core read energy, no I/O), every unit MACs
        lanes_pj = self.units_per_channel * elems * mac_pj
        macab = self.config.mac.macab_energy_j
        per["MACAB"] = nb * base.per_command_pj["RD"] + lanes_pj if macab is None else macab * 1e12
        per["WRGB"] = base.per_command_pj["WR"]
        per["RDMAC"] = base.per_command_pj["RD"]
        # on-die moves of one access: priced as one DRAM column read (IDD4R), an upper bound
        # (it includes the path to the pins), like the default MACAB column reads; the softmax
        # unit has no energy figure here: SFM is counted, unpriced (see archsim.pim.attacc_mapping)
        per["MVSB"] = per["MVGB"] = base.per_command_pj["RD"]
        # a stream covers stream_ranks (pseudo-channel, rank) pairs: a REFab refreshes each, and
        # each draws its own standby current (the DRAM core's background is per rank)
        k = self.stream_ranks
        per["REFab"] = base.per_command_pj["REFab"] * k
        return EnergyTable(per, base.act_standby_pj_per_cycle * k,
                           base.pre_standby_pj_per_cycle * k, base.io_pj_per_bit,
                           base.bits_per_access, mac_pj)


#: (spec key, dtype) -> (timings, constraints, tables): derived data, never mutated
_TABLES: dict = {}


def constraints_for(spec: PimSpec, dtype: str) -> tuple:
    """Integer timings, evaluated constraints (DRAM standard's + :data:`PIM_RULES`) and their
    kernel tables for ``spec`` computing in ``dtype``; computed once per (identity, dtype)."""
    k = (spec.key, dtype)
    hit = _TABLES.get(k)
    if hit is None:
        t = spec.timings_for(dtype)
        cons = tuple(spec.dram.constraints) + evaluate_rules(PIM_RULES, t)
        hit = _TABLES[k] = (t, cons, ConstraintTables.build(cons, spec.command_set))
    return hit


def load_pim(pim) -> PimSpec:
    """Load a PIM config (a preset name in ``archsim/presets/pim``, a YAML path or located data)
    with its DRAM spec; a :class:`PimSpec` is returned as is."""
    if isinstance(pim, PimSpec):
        return pim
    loc = locate(pim, "pim", what="PIM config")
    cfg = from_located(PimConfig, loc)
    try:
        dram = load_spec(locate(cfg.dram, "dram", relative_to=loc.file, what="DRAM spec"))
        dram = with_organization(dram, cfg.organization)
    except ConfigError as exc:
        file, line = loc.where(("dram",))
        raise ConfigError(f"DRAM spec {cfg.dram!r}: {exc}", file=file, line=line,
                          key="dram") from None
    spec = PimSpec(cfg, dram)
    if spec.allbank_scope == "channel" and dram.org.pseudo_channels == 1 and dram.org.ranks == 1:
        file, line = loc.where(("mapping", "allbank_scope"))
        raise ConfigError("allbank_scope: channel needs pseudo-channels or ranks to cover; "
                          "this DRAM part has one of each (use pseudo_channel)", file=file,
                          line=line, key="mapping.allbank_scope")
    if spec.banks_per_rank % spec.banks_per_unit:
        raise ConfigError("banks per channel must be a multiple of banks per unit",
                          file=loc.file, key="mac.unit_level")
    check_macab_energy(spec, loc)
    return spec


def with_organization(dram: DramSpec, org: Optional[PimOrganization]) -> DramSpec:
    """``dram`` with the organisation override ``org`` applied (same timings and currents)."""
    if org is None:
        return dram
    base = dram.config.organization
    changes = {k: int(getattr(org, k)) for k in ("channels", "ranks", "rows")
               if getattr(org, k) is not None and getattr(org, k) != getattr(base, k)}
    if not changes:
        return dram
    new_org = dataclasses.replace(base, **changes, source=f"{base.source}; "
                                  f"{', '.join(changes)}: {org.source}")
    return build_spec(dataclasses.replace(dram.config, organization=new_org))


def check_macab_energy(spec: PimSpec, loc=None) -> None:
    """``mac.macab_energy`` must cover at least the lane MACs of the command."""
    m = spec.config.mac
    if m.macab_energy_j is None:
        return
    elems = spec.org.access_bytes // DTYPE_BYTES[m.dtype]
    lanes_j = spec.units_per_channel * elems * m.mac_energy_j_per_flop * 2
    if m.macab_energy_j < lanes_j * (1 - 1e-12):
        file, line = loc.where(("mac", "macab_energy")) if loc is not None else (None, None)
        raise ConfigError(f"macab_energy {m.macab_energy_j * 1e12:g} pJ is below the lane MACs "
                          f"alone ({lanes_j * 1e12:g} pJ = units x elements x mac_energy)",
                          file=file, line=line, key="mac.macab_energy")


def list_pims() -> list:
    return list_presets("pim")


