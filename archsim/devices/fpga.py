"""FPGA engine device: DSP arrays and a special-function unit on an FPGA card whose HBM traffic
is simulated command by command.

The design is data (:mod:`archsim.fpga.spec`): the part (DSPs, LUTs, BRAM36, URAM, HBM), a
matrix-vector unit ``mv`` and optionally a matrix-matrix unit ``mm``, a special-function unit, on-
chip buffers, the HBM pseudo-channels given to weights and to the KV cache, an energy table.
Configs over the part's resources are rejected when loaded.

One op, as in FlightLLM's decoupled LD / MV / MM / MISC queues with double buffering
(Zeng et al., FPGA'24):

* **matmul** (``gemv``: the MV unit; ``gemm``: the MM unit, or MV when there is none):
  compute ``ceil(m/Tm) ceil(n/Tn) ceil(k'/Tk)`` tile steps (``k' = k N / M`` when N:M sparse
  weights are skipped), each ``lanes_dsp_packing / dsp_packing[w]`` cycles for weight dtype
  ``w`` (rounded up per op); memory: the weights (values, scales, indices: the trace's exact
  bytes) streamed from the weight PCs (:mod:`archsim.fpga.hbm`), new K/V written to the KV PCs.
  Low-bit weights are multiplied as stored (the DSP packing of their width, with the unit's
  activation dtype: FlightLLM's INT4/INT8 x INT8 engines): there is no dequantisation step, so a
  matmul's ``dequant_elements`` (:mod:`archsim.trace.dequant`, counted for FP16 activations)
  adds nothing here (the group scales are counted as streamed bytes).
* **attention** score / context: the same arrays with the KV cache as the streamed operand
  (``k = head_dim`` for scores, ``n = head_dim`` for context; packing of the KV dtype), KV read
  from the KV PCs in the device's ``kv_layout``.
* **everything else** on the SFU: ``elements x passes / elements_per_cycle`` cycles.
* Decoding strategies (:mod:`archsim.transforms.decoding`): a verification pass (``q_len =
  k + 1``), a Medusa tree pass (``q_len`` = tree size) and a draft model's passes are ordinary
  ops of their shapes (more than one query row runs on ``mm`` when there is one); a tree
  mask is priced as the dense ``q_len x kv_len`` block, as the causal mask of a prefill is.
  GEAR-compressed KV (``attrs["kv_compression"]``) is refused: the engines have no datapath
  for its low-rank product and sparse add, and pricing the scores alone would hide that work.
* A ragged attention op of a continuous-batching iteration (``attrs["segments"]``) is priced
  segment by segment, as its per-segment ops would run.
* Activations live in the on-chip activation buffer (FlightLLM's always-on-chip decode); an
  op whose activations exceed it spills them over the KV PCs.

Duration = ``instruction_overhead + pipeline fill/drain + max(compute, HBM)`` (memory and
compute overlap: double buffering). Counts: ``dsp_op`` (DSP operations, each its packed
multiplies), ``onchip_bit`` (activations read and written, weight and KV tiles written into and
read out of their buffers), ``sfu_op``, and the HBM's commands, I/O bits and active channel-
cycles (``hbm.*``) priced from the DRAM core's IDD table. ``cycles`` and ``macs`` are
informational.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal, Optional

from ..config.schema import param, quantity
from ..transforms.decoding.kv_compress import refuse_compressed_kv
from ..errors import ConfigError
from ..fpga import hbm as H
from ..fpga.spec import (Buffers, FpgaEnergy, FpgaPart, HbmAllocation, MatrixUnit, SpecialUnit,
                         check_resources, resource_use)
from ..trace.counting import attention, elementwise
from ..trace.formats import op_sparsity
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, Op, OpKind
from .base import Device, OpCost, register_device
from .common import DeviceCost


@dataclass(frozen=True)
class FpgaConfig:
    """An FPGA engine design on a part (module docstring)."""

    kind: Literal["fpga"] = param()
    name: str = param()
    source: str = param()
    part: FpgaPart = param()
    clock_hz: float = quantity("frequency", min=0, min_exclusive=True)
    mv: MatrixUnit = param()
    sfu: SpecialUnit = param()
    buffers: Buffers = param()
    hbm: HbmAllocation = param()
    energy: FpgaEnergy = param()
    mm: Optional[MatrixUnit] = param(default=None)
    instruction_overhead_cycles: int = param(default=0, min=0,
                                             doc="issue/decode per op (one instruction per op)")
    cost: DeviceCost = param(default_factory=DeviceCost)

    def validate(self):
        if self.mv.tile[0] != 1:
            return (("mv", "tile"), f"a matrix-vector unit has m = 1, got {self.mv.tile[0]}")
        bad = _check_hbm_spec(self.part)
        if bad is not None:
            return bad
        return check_resources(self.part, {"mv": self.mv, "mm": self.mm}, self.sfu,
                               self.buffers, self.hbm)

    def resource_use(self) -> dict:
        return resource_use(self.part, {"mv": self.mv, "mm": self.mm}, self.sfu, self.buffers)


def _check_hbm_spec(part: FpgaPart):
    """The part's HBM spec must have the part's pseudo-channels and datasheet peak (2 %)."""
    try:
        spec = H.load_hbm(part.hbm)
    except ConfigError as e:
        return (("part", "hbm"), e.message)
    if spec.n_channels != part.hbm_pseudo_channels:
        return (("part", "hbm"), f"HBM spec {part.hbm!r} has {spec.n_channels} pseudo-channels, "
                f"the part {part.hbm_pseudo_channels}")
    peak = spec.peak_bandwidth_bytes_per_s
    if abs(peak / part.hbm_bandwidth_bytes_per_s - 1) > 0.02:
        return (("part", "hbm"), f"HBM spec {part.hbm!r} peaks at {peak / 1e9:.1f} GB/s, the "
                f"part's datasheet at {part.hbm_bandwidth_bytes_per_s / 1e9:.1f} GB/s")
    return None


@register_device
class Fpga(Device):
    """FPGA engines with command-level HBM (see module docstring)."""

    kind = "fpga"
    Config = FpgaConfig

    # ---- compute ------------------------------------------------------------------------
    def _unit(self, op: Op, rows: int) -> tuple:
        c = self.config
        if rows > 1 and c.mm is not None:
            return "mm", c.mm
        return "mv", c.mv

    def _array_cycles(self, op: Op, unit: MatrixUnit, name: str, m: int, n: int, k: int,
                      dtype: str, batch: int = 1) -> tuple:
        """``(cycles, dsp_ops, macs)`` of ``batch`` ``[m,k] x [k,n]`` products on ``unit``."""
        if op.dtype != unit.activation_dtype:
            raise ConfigError(f"op {op.name!r} has {op.dtype} activations but the {name} unit "
                              f"of FPGA device {self.name!r} multiplies "
                              f"{unit.activation_dtype} activations (activation_dtype)",
                              key=f"devices.{self.name}.{name}.activation_dtype")
        p = unit.dsp_packing.get(dtype)
        if p is None:
            raise ConfigError(f"op {op.name!r} needs {dtype} x {op.dtype} multiplies but the "
                              f"{name} unit of FPGA device {self.name!r} packs only "
                              f"{', '.join(unit.dsp_packing)} (dsp_packing)",
                              key=f"devices.{self.name}.{name}.dsp_packing")
        Tm, Tn, Tk = unit.tile
        steps = batch * math.ceil(m / Tm) * math.ceil(n / Tn) * math.ceil(k / Tk)
        # each core does one tile step per cycle at lanes_dtype; a dtype packed p per DSP
        # instead of p0 takes p0 / p cycles per step
        cycles = math.ceil(steps * unit.dsp_packing[unit.lanes_dtype] / (unit.cores * p))
        macs = batch * m * n * k
        dsp_ops = math.ceil(macs / p)
        return cycles, dsp_ops, macs

    def _matmul(self, op: Op) -> tuple:
        s = op.shape
        m, n, k = int(s["m"]), int(s["n"]), int(s["k"])
        name, unit = self._unit(op, m)
        sp = op_sparsity(op)
        if sp is not None:
            if f"{sp[0]}:{sp[1]}" not in unit.sparse_nm:
                raise ConfigError(
                    f"op {op.name!r} has {sp[0]}:{sp[1]} sparse weights but the {name} unit of "
                    f"FPGA device {self.name!r} cannot skip zeros of that pattern (sparse_nm: "
                    f"{list(unit.sparse_nm)}); dense pricing would hide the difference, so it "
                    "is refused", key=f"devices.{self.name}.{name}.sparse_nm")
            k = math.ceil(k * sp[0] / sp[1])
        return (name, unit, unit.pipeline_cycles,
                self._array_cycles(op, unit, name, m, n, k, op.weight_dtype or op.dtype))

    def _attention(self, op: Op) -> tuple:
        s = op.shape
        B, Hh, q, C, d = (int(s[x]) for x in ("batch", "heads", "q_len", "kv_len", "head_dim"))
        name, unit = self._unit(op, q)
        kvt = op.kv_dtype or op.dtype
        if op.kind is OpKind.ATTENTION_SCORE:
            r = self._array_cycles(op, unit, name, q, C, d, kvt, batch=B * Hh)
        else:
            r = self._array_cycles(op, unit, name, q, d, C, kvt, batch=B * Hh)
        return name, unit, unit.pipeline_cycles, r

    def _sfu(self, op: Op) -> tuple:
        u = self.config.sfu
        s = op.shape
        elements = int(s.get("rows", 1)) * int(s.get("cols", 1))
        passes = 2 if op.kind.value in u.two_pass else 1
        work = elements * passes
        return math.ceil(work / (u.elements_per_cycle * u.cores)), work, u.pipeline_cycles

    # ---- memory -------------------------------------------------------------------------
    def _kv_pattern(self, op: Op) -> tuple:
        """``(chunk, stride)`` of a KV read in the device's layout."""
        if self.config.hbm.kv_layout == "head_major":
            return 0, 0
        s = op.shape
        from ..dtypes import nbytes
        chunk = nbytes(int(s["head_dim"]), op.kv_dtype or op.dtype)
        return chunk, chunk * int(s["kv_heads"])

    def _hbm(self, op: Op) -> tuple:
        """``(seconds, streams)`` of the op's HBM traffic: weight and KV PCs in parallel."""
        c = self.config
        hb = c.part.hbm
        streams = []
        act = op.bytes_read + op.bytes_written - op.weight_bytes - op.kv_bytes
        if op.kind in MATMUL_KINDS or op.kind is OpKind.EMBEDDING:
            streams.append(("weights", H.stream(hb, c.hbm.weights, op.weight_bytes)))
            if op.kv_bytes:
                streams.append(("kv", H.stream(hb, c.hbm.kv, op.kv_bytes, write=True)))
        elif op.kind in ATTENTION_KINDS:
            chunk, stride = self._kv_pattern(op)
            streams.append(("kv", H.stream(hb, c.hbm.kv, op.kv_bytes, chunk=chunk,
                                           stride=stride)))
        if act > c.buffers.activations.size_bytes:
            streams.append(("kv", H.stream(hb, c.hbm.kv, act)))
        tck = H.clock_s(hb)
        per_class: dict = {}
        for cls, st in streams:
            per_class[cls] = per_class.get(cls, 0.0) + st.cycles * tck
        return max(per_class.values(), default=0.0), [st for _, st in streams]

    # ---- cost ---------------------------------------------------------------------------
    def op_cost(self, op: Op) -> OpCost:
        refuse_compressed_kv(op, self.name, "FPGA", "its engines have no low-rank product and sparse add path")
        if "segments" in op.attrs and op.kind in ATTENTION_KINDS | {OpKind.SOFTMAX}:
            return self._ragged_cost(op)
        return self._op_cost(op)

    def _ragged_cost(self, op: Op) -> OpCost:
        """An op over a ragged batch (``attrs["segments"]``: ``(q_len, kv_len, sequences)``):
        the per-segment ops one after another."""
        attrs = {k: v for k, v in op.attrs.items() if k != "segments"}
        ps, acts, bound = 0, {}, {}
        segs = op.attrs["segments"]
        for q, C, n in segs:
            if op.kind is OpKind.SOFTMAX:
                heads = op.shape["rows"] // sum(qq * nn for qq, _, nn in segs)
                one = elementwise(op.id, op.name, op.kind, op.layer, n * q * heads, C,
                                  "softmax", op.dtype, op.deps)
            else:
                sh = op.shape
                one = attention(op.id, op.name, op.kind, op.layer, n, sh["heads"],
                                sh["kv_heads"], q, C, sh["head_dim"], op.dtype, op.kv_dtype,
                                op.deps)
            part = self._op_cost(dataclasses.replace(one, attrs=attrs))
            ps += part.duration_ps
            for a, v in part.actions.items():
                acts[a] = acts.get(a, 0.0) + v
            bound[part.detail["bound"]] = bound.get(part.detail["bound"], 0) + part.duration_ps
        return OpCost(ps, acts, {"bound": max(bound, key=bound.get) if bound else "sfu"})

    def _op_cost(self, op: Op) -> OpCost:
        c = self.config
        acts: dict = {}
        if op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS:
            name, unit, fill, (cyc, dsp_ops, macs) = (self._matmul(op) if op.kind in MATMUL_KINDS
                                                      else self._attention(op))
            acts["dsp_op"] = float(dsp_ops)
            acts["macs"] = float(macs)
            bound_c = name
        else:
            cyc, work, fill = self._sfu(op)
            acts["sfu_op"] = float(work)
            bound_c = "sfu"
        t_mem, streams = self._hbm(op)
        t_cmp = cyc / c.clock_hz
        t = (c.instruction_overhead_cycles + fill) / c.clock_hz + max(t_cmp, t_mem)
        # on chip: activations in and out; weight and KV tiles written into and read out of
        # their buffers (double buffering)
        acts["onchip_bit"] = 8.0 * (op.bytes_read + op.bytes_written - op.weight_bytes
                                    - op.kv_bytes + 2 * op.weight_bytes + 2 * op.kv_bytes)
        for st in streams:
            for k, v in st.commands.items():
                acts[f"hbm.{k}"] = acts.get(f"hbm.{k}", 0.0) + float(v)
            acts["hbm.channel_cycle"] = acts.get("hbm.channel_cycle", 0.0) + \
                float(math.ceil(st.channel_cycles))
        if streams:
            acts["hbm.io_bit"] = float(sum(st.bytes for st in streams) * 8)
        acts["cycles"] = float(cyc)
        return OpCost(math.ceil(t * 1e12), acts,
                      {"bound": bound_c if t_cmp >= t_mem else "hbm"})

    # ---- pricing ------------------------------------------------------------------------
    def energy_table(self) -> dict:
        e = self.config.energy
        t = H.energy_table(self.config.part.hbm)
        table = {"dsp_op": e.dsp_op_j * 1e12, "onchip_bit": e.onchip_j_per_bit * 1e12,
                 "sfu_op": e.sfu_op_j * 1e12, "hbm.io_bit": float(t.io_pj_per_bit),
                 "hbm.channel_cycle": float(t.act_standby_pj_per_cycle
                                            - t.pre_standby_pj_per_cycle)}
        for k, v in t.per_command_pj.items():
            table[f"hbm.{k}"] = float(v)
        return table

    def static_power_w(self) -> float:
        """Board power when idle (FPGA static, HBM standby, board); the HBM's precharge standby
        is part of it."""
        return self.config.energy.static_power_w

    def memory_capacity_bytes(self) -> float:
        return self.config.part.hbm_capacity_bytes

    def informational_actions(self) -> frozenset:
        return frozenset({"cycles", "macs"})
