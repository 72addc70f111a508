"""PIM DRAM device: matrix-vector products priced by cycle-accurate PIM command simulation.

Every op placed on a ``pim`` device is turned into GEMVs ``y = W x`` with ``W`` stored in the
banks, and each distinct GEMV is simulated command by command with
:func:`archsim.pim.gemv.simulate_gemv` (WRGB of the input slice into the per-channel global
buffer, ACTAB, all-bank MACABs, RDMAC of the results, PREA; refresh; partial sums of segments are
reduced outside the DRAM, on the host). This is the organisation of PIM-GPT (Wu, Wang and Lu,
npj Unconventional Computing 1:4, 2024): one MAC unit per bank, the input vector broadcast from a
per-channel buffer to all banks, results read out to an ASIC that does everything else.

Op -> GEMV mapping (``B`` sequences, ``T`` query positions, ``H`` query heads, ``C`` KV length,
``d`` head size):

* ``gemv``/``gemm`` ``[m, k] x [k, n]``: ``m`` GEMVs with ``rows = n``, ``cols = k``. The weights
  stay in the banks; the rows of a batch run one after another (one input vector at a time in
  the global buffer).
* ``attention_score``: ``B T H`` GEMVs with ``rows = C`` (tokens), ``cols = d``: the K cache of
  the head's KV head, stored row-major (one token's key per matrix row), times ``q_h``.
* ``attention_context``: ``B T H`` GEMVs with ``rows = d``, ``cols = C``: the V cache stored
  column-major (``V^T``, one head dimension per matrix row), times the probabilities ``p_h``.

Attention mapping (``attention_mapping``, a name registered in :mod:`archsim.pim.mapping`):

* ``concat_heads`` (PIM-GPT's head concatenation): the scores of all heads of one query position
  are one multi-head stream (:func:`archsim.pim.attention.simulate_scores_concat`): the keys
  of several heads of a token share one DRAM row, so one ACTAB serves them all, with an RDMAC
  per head. ``B T`` such streams per op. The context keeps one GEMV per head (V is column-major;
  a row is already full with one head's tokens, see that module). If a head does not fit a
  row, the scores fall back to the per-head GEMVs.
* ``per_head``: every head its own GEMV (own WRGB burst, own ACTAB/PREA per row), over all
  channels and banks; an upper bound on attention ACT/PRE, kept for comparison. Query heads
  that share a KV head (GQA) each run their own GEMV over the shared rows.

Datatypes: the simulation uses the MAC units' dtype; ``dtype_aliases`` maps other op dtypes of
the same width onto it (PIM-GPT computes in bf16; fp16 workloads are priced as bf16, since the
timing and energy models depend only on the element width).

Energy, as counts x table (:meth:`Pim.energy_table`, from the DRAM core's IDD-based table):
``cmd.<NAME>`` per command (MACAB split into ``cmd.MACAB`` = the banks' column reads and ``mac``
= lane MACs), ``io_bit`` for WRGB/RDMAC data over the interface, ``bg_cycle`` for channel-cycles
inside GEMVs priced at active minus precharge standby; precharge-standby power of all channels
is the static power. So ``sum(counts x table) + static x GEMV time`` equals the DRAM core's
GEMV energy exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

from ..config.schema import param
from ..dtypes import DTYPE_BITS
from ..transforms.decoding.kv_compress import refuse_compressed_kv
from ..errors import ConfigError
from ..pim.mapping import ATTENTION_MAPPINGS, attention_mapping
from ..pim.spec import DTYPE_BYTES, PimOrganization
from ..trace.formats import refuse_sparse
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, Op, OpKind
from .base import Device, OpCost, register_device
from .common import DeviceCost

PIM_KINDS = ("gemv", "gemm", "attention_score", "attention_context")


@dataclass(frozen=True)
class PimDeviceConfig:
    """A PIM DRAM device: a PIM preset, which ops it runs, and its host."""

    kind: Literal["pim"] = param()
    name: str = param()
    source: str = param()
    pim: str = param(doc="PIM preset name (archsim/presets/pim) or .yaml path")
    organization: Optional[PimOrganization] = param(default=None)
    host: Optional[str] = param(default=None, doc="device that reads results out and writes "
                                "inputs in (e.g. the controller ASIC)")
    accepts: tuple[str, ...] = param(default=PIM_KINDS)
    dtype_aliases: dict[str, str] = param(default_factory=dict,
                                          doc="op dtype -> dtype it is simulated as")
    dtype_source: Optional[str] = param(default=None)
    attention_mapping: str = param(
        default="per_head", doc="attention scores: a mapping registered in archsim.pim.mapping "
        "(concat_heads: heads concatenated in DRAM rows; per_head: one GEMV per head)")
    attention_mapping_source: Optional[str] = param(default=None)
    cost: DeviceCost = param(default_factory=DeviceCost)

    def validate(self):
        for i, k in enumerate(self.accepts):
            if k not in PIM_KINDS:
                return (("accepts", i), f"a PIM device runs only {', '.join(PIM_KINDS)}; "
                        f"got {k!r}")
        if attention_mapping(self.attention_mapping) is None:
            return (("attention_mapping",), f"unknown attention mapping "
                    f"{self.attention_mapping!r}; expected one of {', '.join(ATTENTION_MAPPINGS)}")
        if not attention_mapping(self.attention_mapping).device_model:
            return (("attention_mapping",), f"attention mapping {self.attention_mapping!r} "
                    "is modelled by `archsim pim-attention` only, not by PIM devices")
        for a, b in self.dtype_aliases.items():
            for v in (a, b):
                if v not in DTYPE_BYTES:
                    return (("dtype_aliases", a), f"unknown dtype {v!r}")
            if DTYPE_BYTES[a] != DTYPE_BYTES[b]:
                return (("dtype_aliases", a), f"{a} and {b} differ in width")
        return None


def build_pim_spec(cfg: PimDeviceConfig):
    """The :class:`~archsim.pim.spec.PimSpec` of a device config, organisation overrides applied.

    A channel count is best set in the PIM config itself (``organization:`` there); the device's
    ``organization.channels`` overrides the organisation of the DRAM spec the PIM preset names,
    so timing and energy stay those of the preset.
    """
    from ..pim.spec import load_pim
    spec = load_pim(cfg.pim)
    org = cfg.organization
    if org is None or org.channels is None or org.channels == spec.n_channels:
        return spec
    return spec.with_channels(org.channels, org.source)


@register_device
class Pim(Device):
    """PIM DRAM whose ops are GEMVs simulated at command level (see module docstring)."""

    kind = "pim"
    Config = PimDeviceConfig

    def __init__(self, name: str, config: PimDeviceConfig) -> None:
        super().__init__(name, config)
        self._spec = None

    @property
    def spec(self):
        """The loaded :class:`~archsim.pim.spec.PimSpec` (lazily: constructors do no I/O)."""
        if self._spec is None:
            self._spec = build_pim_spec(self.config)
        return self._spec

    def host(self) -> str | None:
        return self.config.host

    # ---- op -> GEMVs --------------------------------------------------------------------
    def sim_dtype(self, op: Op) -> str:
        """The dtype ``op`` is simulated as (the MAC dtype, or its alias)."""
        mac = self.spec.config.mac.dtype
        dt = self.config.dtype_aliases.get(op.dtype, op.dtype)
        if dt != mac:
            raise ConfigError(f"op {op.name!r} has dtype {op.dtype!r} but the MAC units of PIM "
                              f"device {self.name!r} compute {mac!r}; add a dtype alias if the "
                              "cost is the same", key=f"devices.{self.name}.dtype_aliases")
        return dt

    def gemvs(self, op: Op) -> list:
        """``[(count, rows, cols)]``: the GEMVs that ``op`` is mapped to (module docstring)."""
        if op.kind.value not in self.config.accepts or not (op.kind in MATMUL_KINDS
                                                            or op.kind in ATTENTION_KINDS):
            raise ConfigError(f"op {op.name!r} of kind {op.kind.value!r} was placed on PIM "
                              f"device {self.name!r}, which runs only "
                              f"{', '.join(self.config.accepts)}; place it on another device "
                              "(placement rules)", key="placement")
        s = op.shape
        if op.kind in MATMUL_KINDS:
            self._check_weights(op)
            return [(int(s["m"]), int(s["n"]), int(s["k"]))]
        n = int(s["batch"]) * int(s["q_len"]) * int(s["heads"])
        C, d = int(s["kv_len"]), int(s["head_dim"])
        if op.kind is OpKind.ATTENTION_SCORE:
            if self._concat(op) is not None:
                # one multi-head stream per query position: rows = tokens x heads
                return [(n // int(s["heads"]), C * int(s["heads"]), d)]
            return [(n, C, d)]
        return [(n, d, C)]

    def _check_weights(self, op: Op) -> None:
        """Refuse weights the simulated GEMV does not store: N:M sparse, group-wise scaled, or
        of another width than the MAC units' dtype (the bank rows hold one dtype)."""
        if op.attrs and "sparsity" in op.attrs:
            refuse_sparse(op, self.name, self.kind, "its bank MAC units stream dense rows")
        mac = self.spec.config.mac.dtype
        if op.attrs and "weight_group" in op.attrs:
            raise ConfigError(f"op {op.name!r} has group-wise scaled weights, which PIM device "
                              f"{self.name!r} does not model (its MAC units compute {mac!r}); "
                              "remove precision.weight_group_size", key=f"devices.{self.name}")
        wd = op.weight_dtype
        if wd is not None and DTYPE_BITS.get(wd) != DTYPE_BITS.get(mac):
            raise ConfigError(f"op {op.name!r} has {wd} weights but the MAC units of PIM device "
                              f"{self.name!r} compute {mac!r}; the GEMV simulation stores "
                              f"weights at the MAC width", key=f"devices.{self.name}")

    def _concat(self, op: Op):
        """The multi-head score result of ``op`` under the device's attention mapping, or
        ``None`` (per-head GEMVs)."""
        if op.kind is not OpKind.ATTENTION_SCORE:
            return None
        return attention_mapping(self.config.attention_mapping).scores(self.spec, op.shape,
                                                                       self.sim_dtype(op))

    def simulate(self, rows: int, cols: int, dtype: str, *, memo: bool = True,
                 context: bool = False):
        """One GEMV on all channels (:func:`~archsim.pim.gemv.simulate_gemv`); ``context``: an
        attention-context GEMV, laid out by ``mapping.context_split`` when the PIM config sets
        it."""
        from ..pim.gemv import gemv_split, simulate_gemv
        return simulate_gemv(self.spec, rows, cols, dtype, memo=memo,
                             split=gemv_split(self.spec, context))

    def gemv_actions(self, res) -> dict:
        """Action counts of one GEMV result (priced by :meth:`energy_table`)."""
        spec = self.spec
        elems = spec.org.access_bytes // _width(res.dtype)
        acts = {f"cmd.{k}": float(n) for k, n in res.commands.items()}
        acts["mac"] = float(res.commands.get("MACAB", 0) * spec.units_per_channel * elems)
        t = res.energy.table
        acts["io_bit"] = float((res.commands.get("WRGB", 0) + res.commands.get("RDMAC", 0))
                               * t.bits_per_access)
        acts["bg_cycle"] = float(res.cycles * res.channels)
        acts["macs_useful"] = float(res.macs)       # informational (not priced)
        acts["gemv"] = 1.0                          # informational
        return acts

    def op_cost(self, op: Op) -> OpCost:
        refuse_compressed_kv(op, self.name, "PIM", "dequantisation, low-rank product and sparse add are not all-bank MACs")
        if "segments" in op.attrs and op.kind in ATTENTION_KINDS:
            return self._ragged_cost(op)
        dtype = self.sim_dtype(op)
        cycles = 0
        actions: dict = {}
        concat = self._concat(op)
        for count, rows, cols in self.gemvs(op):
            if count <= 0:
                continue
            res = concat if concat is not None else self.simulate(
                rows, cols, dtype, context=op.kind is OpKind.ATTENTION_CONTEXT)
            cycles += count * res.cycles
            for a, v in self.gemv_actions(res).items():
                actions[a] = actions.get(a, 0.0) + count * v
        actions["cycles"] = float(cycles)
        ps = math.ceil(cycles * self.spec.tck_s * 1e12 - 1e-6)
        return OpCost(ps, actions, {"bound": "pim", "gemvs": self.gemvs(op)})

    def _ragged_cost(self, op: Op) -> OpCost:
        """An attention op over a ragged batch (``attrs["segments"]``: ``(q_len, kv_len,
        sequences)``, as a continuous-batching iteration has): the GEMVs of each segment one
        after another, as the per-segment ops would run."""
        import dataclasses
        attrs = {k: v for k, v in op.attrs.items() if k != "segments"}
        ps, actions, gemvs = 0, {}, []
        for q, c, n in op.attrs["segments"]:
            part = self.op_cost(dataclasses.replace(
                op, shape=dict(op.shape, batch=n, q_len=q, kv_len=c), attrs=attrs))
            ps += part.duration_ps
            for a, v in part.actions.items():
                actions[a] = actions.get(a, 0.0) + v
            gemvs += part.detail["gemvs"]
        return OpCost(ps, actions, {"bound": "pim", "gemvs": gemvs})

    # ---- energy -------------------------------------------------------------------------
    def energy_table(self) -> dict:
        spec = self.spec
        t = spec.energy_table(spec.config.mac.dtype)
        elems = spec.org.access_bytes // _width(spec.config.mac.dtype)
        table = {f"cmd.{k}": float(v) for k, v in t.per_command_pj.items()}
        # MACAB = every bank's column read + every unit's lane MACs; priced apart
        table["cmd.MACAB"] = t.per_command_pj["MACAB"] - spec.units_per_channel * elems * t.mac_pj
        table["mac"] = float(t.mac_pj)
        table["io_bit"] = float(t.io_pj_per_bit)
        table["bg_cycle"] = float(t.act_standby_pj_per_cycle - t.pre_standby_pj_per_cycle)
        return table

    def static_power_w(self) -> float:
        """Precharge-standby power of every channel (VDD x IDD2N), drawn all the time."""
        t = self.spec.energy_table(self.spec.config.mac.dtype)
        return t.pre_standby_pj_per_cycle * 1e-12 / self.spec.tck_s * self.spec.n_channels

    def memory_capacity_bytes(self) -> float:
        o = self.spec.org
        return float(self.spec.n_channels * self.spec.banks_per_rank * o.rows * o.row_size_bytes)

    def informational_actions(self) -> frozenset:
        return frozenset({"cycles", "macs_useful", "gemv"})


def _width(dtype: str) -> int:
    return DTYPE_BYTES[dtype]
