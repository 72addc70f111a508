"""The mapping stage: every op of a trace gets the device (or, for a collective, the devices)
that runs it.

An op pinned by a trace transform (``Op.devices``: a parallelism plan's shard, a captured
multi-device run) goes where it is pinned; any other op goes where the design point's placement
rules send it. An op's assignment follows from its own pins, never from another op's name:
two shards called ``L3.qkv_proj`` pinned to two devices stay on their own devices. What the
rules give depends on an op's name and kind alone, so it is resolved once per (name, kind);
pins are checked once per distinct pin set.
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
        self._ruled: dict = {}    # (name, kind) -> device: the rules read nothing else
        self._pinned: dict = {}   # (pins, kind) -> checked assignment

    def assign(self, op):
        """Device name of ``op``, or a tuple of member device names for a collective."""
        pins = op.devices
        if pins:
            key = (pins, op.kind)
            a = self._pinned.get(key)
            if a is None:
                a = self._pinned[key] = self._check_pins(op)
            return a
        key = (op.name, op.kind)
        a = self._ruled.get(key)
        if a is None:
            if op.kind is OpKind.COLLECTIVE:
                raise SimulationError(f"collective op {op.name!r} names no member devices; a "
                                      "collective needs at least two")
            a = self.placement.device_for(op, self.devices)
            if a not in self._known:
                raise SimulationError(f"op {op.name!r} goes to {a!r} by the placement rules, a "
                                      "group: a group names a device only inside the units of a "
                                      "parallelism plan, which pins every op it places")
            self._ruled[key] = a
        return a

    def _check_pins(self, op):
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
        if len(pinned) > 1:
            raise SimulationError(f"op {op.name!r} of kind {op.kind.value} is pinned to "
                                  f"{len(pinned)} devices; only a collective runs on several")
        return pinned[0]

    def map_step(self, step) -> list:
        """Assignments of ``step``'s ops, in op order."""
        assign = self.assign
        return [assign(op) for op in step.ops]
