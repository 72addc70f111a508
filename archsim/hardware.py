"""Hardware design points: devices, switches, the links between them, op placement and cost
basis."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Optional

from .config.presets import apply_overrides, locate
from .config.schema import from_located, param, quantity
from .devices.common import DeviceEntry
from .mapping.placement import Placement
from .topology import expand
from .transforms.base import TransformEntry, check_transforms
from .transforms.parallel import Parallelism


@dataclass(frozen=True)
class LinkConfig:
    """A link between two nodes, devices or switches (both directions unless
    ``bidirectional: false``).

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
    efficiency: float = param(default=1.0, min=0.0, max=1.0, min_exclusive=True,
                              doc="achieved fraction of the line rate (protocol overhead)")
    bidirectional: bool = param(default=True)
    name: str | None = param(default=None, doc="the link preset's name, for reports")
    source: str | None = param(default=None)


@dataclass(frozen=True)
class SwitchConfig:
    """A switch (NVSwitch, a PCIe switch, a network switch): a node links attach to that
    computes nothing and forwards transfers between its links (store-and-forward: each hop's
    transfer ends before the next starts; per-hop latency goes on the links)."""

    description: str | None = param(default=None)
    source: str | None = param(default=None)


@dataclass(frozen=True)
class CollectiveConfig:
    """How collectives run (:mod:`archsim.engine.collective`)."""

    algorithm: Literal["ring", "tree"] = param(default="ring", doc="all-reduce algorithm")
    launch_latency_s: float = quantity("time", default=0.0, min=0,
                                       doc="fixed cost per collective (NCCL base latency)")
    source: str | None = param(default=None)


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
    """A design point: named devices, switches, links, placement of ops and the cost model.

    ``placement`` is the mapping layer's data (:mod:`archsim.mapping`) and ``transforms`` the
    transform layer's (:mod:`archsim.transforms`), carried here because a design point names
    both the hardware and how a trace is laid onto it.
    """

    _preset_category = "hw"

    name: str = param()
    devices: dict[str, DeviceEntry] = param()
    description: str | None = param(default=None)
    groups: dict[str, tuple[str, ...]] = param(
        default_factory=dict, doc="named device lists (a device entry with 'count: N' makes one)")
    allow_unused_devices: bool = param(
        default=False, doc="accept devices that no op runs on (else that is an error)")
    switches: dict[str, SwitchConfig] = param(default_factory=dict)
    links: tuple[LinkConfig, ...] = param(default=())
    collective: CollectiveConfig = param(default_factory=CollectiveConfig)
    placement: Placement = param(default_factory=Placement)
    parallelism: Optional[Parallelism] = param(default=None, doc="the parallelism plan "
                                               "(archsim.transforms.parallel), applied first")
    transforms: tuple[TransformEntry, ...] = param(default=(), doc="trace transforms applied "
                                                   "before mapping, in order")
    cost: CostModel = param(default_factory=CostModel)

    def validate(self):
        if not self.devices:
            return (("devices",), "at least one device is needed")
        for name in self.switches:
            if name in self.devices:
                return (("switches", name), f"{name!r} is both a device and a switch")
        for g, members in self.groups.items():
            for i, d in enumerate(members):
                if d not in self.devices:
                    return (("groups", g, i), f"unknown device {d!r}; devices are "
                            f"{', '.join(self.devices)}")
        bad = self.placement.check(self.devices, self.groups)
        if bad is not None:
            return (("placement",) + bad[0], bad[1])
        bad = check_transforms(self)
        if bad is not None:
            return bad
        nodes = set(self.devices) | set(self.switches)
        for i, link in enumerate(self.links):
            for end in ("src", "dst"):
                if getattr(link, end) not in nodes:
                    return (("links", i, end), f"unknown device "
                            f"{getattr(link, end)!r}; devices and switches are {', '.join(sorted(nodes))}")
        return None


    def trace_transforms(self) -> tuple:
        """Every transform this design point applies to a trace, in order: the parallelism
        plan, then ``transforms``."""
        return ((self.parallelism,) if self.parallelism is not None else ()) + self.transforms


def load_hardware(source, overrides=()) -> HardwareConfig:
    """Load a hardware config from a YAML path (or a ``dict``), applying ``--set`` overrides."""
    if isinstance(source, HardwareConfig):
        return source
    located = locate(source if isinstance(source, dict) else os.fspath(source), "hw",
                     what="hardware config")
    located = apply_overrides(located, overrides)
    return from_located(HardwareConfig, expand(located))


__all__ = ["HardwareConfig", "LinkConfig", "SwitchConfig", "CollectiveConfig", "CostModel",
           "load_hardware"]
