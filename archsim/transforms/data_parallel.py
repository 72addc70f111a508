"""Data-parallel replicas: the whole trace runs once per device, each replica on its own batch.

Each step's ops are copied once per device in ``devices`` and pinned there (copies keep their
names: the mapping stage tells them apart by identity); the step's batch, tokens yielded and
first tokens are multiplied by the number of replicas. Replicas share nothing, so no collective
is added: decoding needs no gradient exchange. Each replica is one device, so this transform
applies to traces whose ops the design point would otherwise run on one device; a replica of a
multi-device pipeline (placement rules) is a parallelism plan's job.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from ..config.schema import param
from ..trace.schema import Trace
from .base import Transform, pinned_error, register_transform


@register_transform
@dataclasses.dataclass(frozen=True)
class DataParallel(Transform):
    """``{kind: data_parallel, devices: [gpu0, gpu1, ...]}``: one replica per device."""

    devices: tuple[str, ...] = param(doc="one replica per device, in order")
    kind: Literal["data_parallel"] = param(default="data_parallel")

    def validate(self):
        if len(self.devices) < 2:
            return (("devices",), "data parallelism needs at least two devices")
        if len(set(self.devices)) != len(self.devices):
            return (("devices",), "a device is named twice")
        return None

    def check(self, hw):
        for i, d in enumerate(self.devices):
            if d not in hw.devices:
                return (("devices", i), f"unknown device {d!r}; devices are "
                        f"{', '.join(hw.devices)}")
        return None

    def apply(self, trace: Trace, hw=None) -> Trace:
        n = len(self.devices)
        copies: dict = {}   # (id(op), replica, offsets) -> copy; decode steps keep sharing ops
        sizes = [len(s.ops) for s in trace.steps]
        steps = []
        for si, s in enumerate(trace.steps):
            k = sizes[si]
            ops = []
            for r, dev in enumerate(self.devices):
                for o in s.ops:
                    back_sizes = tuple(sizes[si - b] for b, _ in o.prior)
                    key = (id(o), r, k, back_sizes)
                    c = copies.get(key)
                    if c is None:
                        if o.devices:
                            raise pinned_error(o, "data_parallel")
                        c = copies[key] = (o, dataclasses.replace(
                            o, id=r * k + o.id, deps=tuple(r * k + d for d in o.deps),
                            prior=tuple((b, r * kb + d) for (b, d), kb in zip(o.prior,
                                                                             back_sizes)),
                            devices=(dev,)))
                    ops.append(c[1])
            steps.append(dataclasses.replace(
                s, batch=s.batch * n, ops=tuple(ops), tokens_out=s.yielded_tokens * n,
                first_tokens=s.first_token_sequences * n))
        meta = dict(trace.meta)
        meta.setdefault("transforms", []).append({"kind": self.kind, "devices": list(self.devices)})
        return dataclasses.replace(trace, steps=tuple(steps), meta=meta)
