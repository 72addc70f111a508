"""The mapping stage: every op of a trace gets the device (or, for a collective, the devices)
that runs it.

An op pinned by a trace transform (``Op.devices``: a parallelism plan's shard, a captured
multi-device run) goes where it is pinned; any other op goes where the design point's placement
rules send it. The result is keyed by op *identity*, never by name: two shards called
``L3.qkv_proj`` on two devices stay on their own devices. Ops shared between steps (decode steps
reuse op objects) are resolved once.
"""
from __future__ import annotations

from ..errors import SimulationError
from ..trace.schema import OpKind
from .placement import Placement


class Mapper:
    """Resolves ops to device names for one design point.

    Parameters
    ----------
    placement : Placement
        The design point's rules.
    devices : sequence of str
        The design point's device names, in declaration order.
    """

    def __init__(self, placement: Placement, devices) -> None:
        self.placement = placement
        self.devices = tuple(devices)
        self._known = frozenset(self.devices)
        self._by_id: dict = {}   # id(op) -> (op, assignment); the op is kept so ids stay unique

    def assign(self, op):
        """Device name of ``op``, or a tuple of member device names for a collective."""
        hit = self._by_id.get(id(op))
        if hit is not None and hit[0] is op:
            return hit[1]
        a = self._resolve(op)
        self._by_id[id(op)] = (op, a)
        return a

    def _resolve(self, op):
        pinned = op.devices
        for d in pinned:
            if d not in self._known:
                raise SimulationError(f"op {op.name!r} is pinned to device {d!r}, which this "
                                      f"design point does not have (devices: "
                                      f"{', '.join(self.devices)})")
        if op.kind is OpKind.COLLECTIVE:
            if len(pinned) < 2:
                raise SimulationError(f"collective op {op.name!r} names {len(pinned)} member "
                                      "device(s); a collective needs at least two")
            if len(set(pinned)) != len(pinned):
                raise SimulationError(f"collective op {op.name!r} names a member twice")
            return tuple(pinned)
        if pinned:
            return pinned[0]
        return self.placement.device_for(op, self.devices)

    def map_step(self, step) -> list:
        """Assignments of ``step``'s ops, in op order."""
        assign = self.assign
        return [assign(op) for op in step.ops]
