"""Shared pieces of the engine tests: a test device whose op takes ``op.flops`` picoseconds,
and small constructors for ops, design points and traces."""
from dataclasses import dataclass
from typing import Literal

from archsim import OpKind, load_hardware
from archsim.config.schema import param
from archsim.devices.base import Device, OpCost, device_kinds, register_device
from archsim.trace.schema import Op, Phase, Step, Trace


@dataclass(frozen=True)
class FixedConfig:
    kind: Literal["fixed_test"] = param()
    host: str | None = param(default=None)
    dispatch_ps: int = param(default=0, min=0)   # host time per issued op (eager host stack)


class FixedDevice(Device):
    """Test device: an op takes ``op.flops`` picoseconds and costs 1 pJ per FLOP."""

    kind = "fixed_test"
    Config = FixedConfig

    def op_cost(self, op):
        return OpCost(op.flops, {"flop": op.flops})

    def energy_table(self):
        return {"flop": 1.0}

    def host(self):
        return self.config.host

    def dispatch_ps(self):
        return self.config.dispatch_ps


if "fixed_test" not in device_kinds():
    register_device(FixedDevice)


def op(i, ps, deps=(), out_bytes=0, name=None, kind=OpKind.ELEMENTWISE, devices=(), prior=(),
       **attrs):
    shape = {"elements": out_bytes // 2} if kind is OpKind.COLLECTIVE else {"rows": 1, "cols": 1}
    return Op(i, name or f"op{i}", kind, 0, shape, "fp16", ps, 0, out_bytes, deps=tuple(deps),
              attrs=attrs, devices=tuple(devices), prior=tuple(prior))


def hw(devices, links=(), rules=(), hosts=None, switches=(), allow_unused=True, dispatch=None):
    """A design point of test devices; ``dispatch[d]``: device ``d``'s host time per op in ps."""
    hosts = hosts or {}
    dispatch = dispatch or {}

    def entry(d):
        return {"kind": "fixed_test", **({"host": hosts[d]} if d in hosts else {}),
                **({"dispatch_ps": dispatch[d]} if d in dispatch else {})}
    return load_hardware({
        "name": "t", "allow_unused_devices": allow_unused,
        "devices": {d: entry(d) for d in devices},
        "switches": {s: {} for s in switches},
        "links": [dict(l) for l in links],
        "placement": {"default": devices[0], "rules": [dict(r) for r in rules]}})


def trace(*steps_ops, barriers=None, **step_kw):
    barriers = barriers or [True] * len(steps_ops)
    return Trace(tuple(Step(i, Phase.DECODE, 1, 1, 1, tuple(ops), barrier=b, **step_kw)
                       for i, (ops, b) in enumerate(zip(steps_ops, barriers))), {})
