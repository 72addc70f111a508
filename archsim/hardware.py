"""Hardware design points: devices, the links between them, op placement and cost basis."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Literal

from .config.presets import apply_overrides
from .config.schema import from_located, param, quantity
from .config.presets import locate
from .config.yamlio import Located
from .devices.common import DeviceEntry
from .trace.schema import Op, OpKind

_KINDS = tuple(k.value for k in OpKind)


@dataclass(frozen=True)
class LinkConfig:
    """A link between two devices (both directions unless ``bidirectional: false``).

    Omit ``bandwidth`` only when an endpoint's op costs already include moving the data (e.g. a
    PIM device whose command simulation writes input vectors and reads results over the DRAM
    interface): the link then adds its latency and nothing else, so nothing is counted twice.
    """

    src: str = param()
    dst: str = param()
    bandwidth_bytes_per_s: float | None = quantity("bandwidth", default=None, min=0,
                                                   min_exclusive=True)
    latency_s: float = quantity("time", default=0.0, min=0)
    energy_j_per_bit: float = quantity("energy_per_bit", default=0.0, min=0,
                                      key="energy_per_bit")
    bidirectional: bool = param(default=True)
    source: str | None = param(default=None)


@dataclass(frozen=True)
class PlacementRule:
    """Ops matching any of ``kinds`` or ``names`` (shell patterns on op names) go to ``device``."""

    device: str = param()
    kinds: tuple[str, ...] = param(default=())
    names: tuple[str, ...] = param(default=())

    def validate(self):
        for i, k in enumerate(self.kinds):
            if k not in _KINDS:
                return (("kinds", i), f"unknown op kind {k!r}; expected one of {', '.join(_KINDS)}")
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


@dataclass(frozen=True)
class CostModel:
    """How to turn time and energy into money.

    ``basis: rental`` charges each device's rental price for the run time; ``basis: capex``
    charges capital cost amortised over ``lifetime`` plus electricity at ``electricity_price``
    times ``pue``.
    """

    basis: Literal["rental", "capex"] = param(default="rental")
    lifetime_s: float = quantity("time", default=3 * 365 * 86400.0, min=0, min_exclusive=True)
    electricity_price_usd_per_kwh: float = quantity("energy_price", default=0.10, min=0)
    pue: float = param(default=1.0, min=1.0)
    source: str | None = param(default=None)


@dataclass(frozen=True)
class HardwareConfig:
    """A design point: named devices, links, placement of ops and the cost model."""

    _preset_category = "hw"

    name: str = param()
    devices: dict[str, DeviceEntry] = param()
    description: str | None = param(default=None)
    links: tuple[LinkConfig, ...] = param(default=())
    placement: Placement = param(default_factory=Placement)
    cost: CostModel = param(default_factory=CostModel)

    def validate(self):
        if not self.devices:
            return (("devices",), "at least one device is needed")
        names = set(self.devices)
        if self.placement.default is None and len(names) > 1:
            return (("placement", "default"), "several devices: name the default device")
        if self.placement.default is not None and self.placement.default not in names:
            return (("placement", "default"), f"unknown device {self.placement.default!r}; "
                    f"devices are {', '.join(sorted(names))}")
        for i, r in enumerate(self.placement.rules):
            if r.device not in names:
                return (("placement", "rules", i, "device"), f"unknown device {r.device!r}; "
                        f"devices are {', '.join(sorted(names))}")
        for i, link in enumerate(self.links):
            for end in ("src", "dst"):
                if getattr(link, end) not in names:
                    return (("links", i, end), f"unknown device {getattr(link, end)!r}; "
                            f"devices are {', '.join(sorted(names))}")
        return None

    @property
    def default_device(self) -> str:
        return self.placement.default or next(iter(self.devices))

    def place(self, op: Op) -> str:
        """Name of the device that runs ``op``."""
        for r in self.placement.rules:
            if r.matches(op):
                return r.device
        return self.default_device


def load_hardware(source, overrides=()) -> HardwareConfig:
    """Load a hardware config from a YAML path (or a ``dict``), applying ``--set`` overrides."""
    if isinstance(source, HardwareConfig):
        return source
    located = locate(source if isinstance(source, dict) else os.fspath(source), "hw",
                     what="hardware config")
    located = apply_overrides(located, overrides)
    return from_located(HardwareConfig, located)


__all__ = ["HardwareConfig", "LinkConfig", "Placement", "PlacementRule", "CostModel",
           "load_hardware", "Located"]
