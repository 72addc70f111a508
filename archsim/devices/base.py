"""The device interface and the registry of device kinds.

A device kind is one module in :mod:`archsim.devices` that defines a config schema (a frozen
dataclass with a ``kind`` field) and a :class:`Device` subclass decorated with
:func:`register_device`, plus presets in ``archsim/presets/devices/``. Nothing else changes:
hardware configs find the kind by name, the engine calls :meth:`Device.op_cost`.

Timing, energy and cost stay separate (count, then price): :meth:`Device.op_cost` returns a
duration and *action counts* (FLOPs, DRAM bytes, DRAM commands, MACs ...); the device's
:meth:`Device.energy_table` prices each action in picojoules (:mod:`archsim.pricing`, strictly:
an unpriced action is an error unless :meth:`Device.informational_actions` lists it); static
power is charged over time.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ConfigError
from ..trace.schema import Op

_REGISTRY: dict = {}


@dataclass(frozen=True)
class OpCost:
    """What running one op on a device costs.

    Attributes
    ----------
    duration_ps : int
        Busy time of the device for this op.
    actions : dict
        Action name -> count (e.g. ``{"dram_read_bytes": 1.3e9, "fp16_flop": 2e9}``).
    detail : dict
        Optional facts for inspection (bound, achieved bandwidth ...); not used for pricing.
    """

    duration_ps: int
    actions: dict = field(default_factory=dict)
    detail: dict = field(default_factory=dict)


class Device:
    """Base class of simulated devices.

    Subclasses set ``kind`` and ``Config`` and implement :meth:`op_cost`. Constructors only store
    the config: no I/O, no simulation.
    """

    kind: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, name: str, config) -> None:
        self.name = name
        self.config = config

    def op_cost(self, op: Op) -> OpCost:
        """Duration and action counts of ``op`` on this device."""
        raise NotImplementedError

    def energy_table(self) -> dict:
        """Action name -> energy per action in picojoules."""
        return {}

    def static_power_w(self) -> float:
        """Power drawn whenever the device is on (idle or busy), in watts."""
        return 0.0

    def memory_capacity_bytes(self) -> float | None:
        """Capacity for weights and KV cache, or ``None`` when not modelled."""
        return None

    def host(self) -> str | None:
        """Device through which this device's results must pass before its own later ops can use
        them (``None``: results stay on the device).

        A PIM DRAM has no data path from its MAC result latches back into its banks or global
        buffer: the host reads results out and writes the next input vector in. The engine then
        routes a dependency between two ops on this device through the host and back.
        """
        return None

    def dispatch_ps(self) -> int:
        """Host time to issue one op to this device, in ps (0: no host software stack binds).

        A device whose ops a host thread issues one by one (eager PyTorch on a GPU) reports the
        issue time here, apart from the op's duration: the engine keeps a host clock per such
        device, issues its ops in trace order and starts each no earlier than its issue ends
        (see :mod:`archsim.engine.scheduler`).
        """
        return 0

    def informational_actions(self) -> frozenset:
        """Actions this device counts for inspection only (cycles, useful MACs ...): they carry
        no energy of their own, so :mod:`archsim.pricing` does not ask the energy table for
        them. Any other counted action must have a price."""
        return frozenset()


def register_device(cls):
    """Class decorator: make a :class:`Device` subclass available under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"device kind {cls.kind!r} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


_loaded = False


def _load_all() -> None:
    """Import every module of :mod:`archsim.devices` so that they register their kinds."""
    global _loaded
    if _loaded:
        return
    pkg = importlib.import_module("archsim.devices")
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"archsim.devices.{info.name}")
    _loaded = True


def device_kinds() -> dict:
    """Registered device kinds: name -> Device subclass."""
    _load_all()
    return dict(_REGISTRY)


def device_class(kind: str):
    kinds = device_kinds()
    if kind not in kinds:
        import difflib
        close = difflib.get_close_matches(str(kind), list(kinds), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown device kind {kind!r}{hint}; known kinds: "
                          + ", ".join(sorted(kinds)))
    return kinds[kind]
