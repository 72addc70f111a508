"""Device units of a parallelism plan: which devices a rank is, and which of them runs an op.

``devices`` in a plan is a group name, a list of device names, or a list of group names of equal
length zipped into units (``[pim, pnm]``: unit ``i`` is ``(pim_i, pnm_i)``, as a CENT device is
a PIM memory plus its near-memory processor). Within a unit of several devices the design
point's placement rules choose the device: a rule may name a group, meaning the unit's member of
that group.
"""
from __future__ import annotations

from ..errors import ConfigError


def resolve_units(spec, hw, key: tuple) -> list:
    """Units (tuples of device names) that ``spec`` names on design point ``hw``."""
    names = [spec] if isinstance(spec, str) else list(spec)
    groups = hw.groups
    if all(n in groups for n in names):
        lists = [groups[n] for n in names]
        if len({len(x) for x in lists}) != 1:
            raise _err(key, "zipped groups must have the same length: "
                       + ", ".join(f"{n} has {len(groups[n])}" for n in names))
        return [tuple(x) for x in zip(*lists)]
    for n in names:
        if n not in hw.devices:
            raise _err(key, f"unknown device or group {n!r}; devices are "
                       f"{', '.join(hw.devices)}; groups are {', '.join(groups) or 'none'}")
    if len(set(names)) != len(names):
        raise _err(key, "a device is named twice")
    return [(n,) for n in names]


def member_for(op, unit: tuple, hw) -> str:
    """The device of ``unit`` that runs ``op`` (placement rules, groups meaning their member in
    the unit)."""
    if len(unit) == 1:
        return unit[0]
    target = None
    for r in hw.placement.rules:
        if r.matches(op):
            target = r.device
            break
    if target is None:
        target = hw.placement.default
    if target in unit:
        return target
    members = [d for d in hw.groups.get(target, ()) if d in unit]
    if len(members) == 1:
        return members[0]
    raise ConfigError(f"op {op.name!r} ({op.kind.value}) goes to {target!r} by the placement "
                      f"rules, which is not one device of the unit {', '.join(unit)}; name a "
                      "group each unit has one member of", key="placement")


def _err(key, msg):
    from ..config.yamlio import dotted
    return ConfigError(msg, key=dotted(key))
