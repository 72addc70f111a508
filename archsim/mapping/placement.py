"""Placement rules: the part of a design point that says which device runs which op.

A design point's ``placement:`` section is data (a default device and rules matching op kinds or
name patterns). It lives with the design point in the YAML, but resolving it is the mapping
stage's job (:mod:`archsim.mapping.mapper`), not the hardware's.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..config.schema import param
from ..trace.schema import OP_KINDS, Op


@dataclass(frozen=True)
class PlacementRule:
    """Ops matching any of ``kinds`` or ``names`` (shell patterns on op names) go to ``device``."""

    device: str = param()
    kinds: tuple[str, ...] = param(default=())
    names: tuple[str, ...] = param(default=())

    def validate(self):
        for i, k in enumerate(self.kinds):
            if k not in OP_KINDS:
                return (("kinds", i), f"unknown op kind {k!r}; expected one of "
                        f"{', '.join(OP_KINDS)}")
        if not self.kinds and not self.names:
            return ((), "a placement rule needs 'kinds' or 'names'")
        return None

    def matches(self, op: Op) -> bool:
        return op.kind.value in self.kinds or any(fnmatch.fnmatchcase(op.name, p)
                                                  for p in self.names)


@dataclass(frozen=True)
class Placement:
    """Which device runs each op: the first matching rule, else ``default``."""

    default: str | None = param(default=None, doc="defaults to the only device")
    rules: tuple[PlacementRule, ...] = param(default=())

    def check(self, devices, groups=()) -> tuple | None:
        """``(key path, message)`` for the first rule naming neither a device of ``devices``
        nor a group of ``groups`` (a group stands for its member in each unit of a
        parallelism plan, :mod:`archsim.transforms.units`)."""
        names = set(devices) | set(groups)
        listed = ", ".join(sorted(devices)) + (f"; groups are {', '.join(sorted(groups))}"
                                               if groups else "")
        if self.default is None and len(set(devices)) > 1:
            return (("default",), "several devices: name the default device")
        if self.default is not None and self.default not in names:
            return (("default",), f"unknown device {self.default!r}; devices are {listed}")
        for i, r in enumerate(self.rules):
            if r.device not in names:
                return (("rules", i, "device"), f"unknown device {r.device!r}; devices are "
                        f"{listed}")
        return None

    def device_for(self, op: Op, devices) -> str:
        """The device (or group) the rules give ``op`` (``devices``: the design point's)."""
        for r in self.rules:
            if r.matches(op):
                return r.device
        return self.default or next(iter(devices))
