"""Config pieces shared by all device kinds: identity, cost and the polymorphic device entry."""
from __future__ import annotations

from dataclasses import dataclass

from ..config.schema import build, param, quantity


@dataclass(frozen=True)
class DeviceCost:
    """How a device is paid for: a rental price, or capital cost amortised over a lifetime.

    When both are given the hardware config's ``cost.basis`` chooses.
    """

    rental_usd_per_h: float | None = quantity("money_rate", default=None, min=0)
    rental_source: str | None = param(default=None)
    capex_usd: float | None = quantity("money", default=None, min=0)
    capex_source: str | None = param(default=None)


class DeviceEntry:
    """Marker type for a device in a hardware config: ``{kind: ..., ...}`` or ``{extends: ...}``.

    The ``kind`` selects the registered device class whose ``Config`` schema validates the rest.
    """

    @classmethod
    def __archsim_build__(cls, value, ctx):
        from ..config.presets import preset_reference, resolve_extends
        from .base import device_class
        value = preset_reference(value, ctx, "a device preset name or a mapping with a 'kind'")
        if "extends" in value:
            value = resolve_extends(value, ctx, "devices")
        kind = value.get("kind")
        if kind is None:
            raise ctx.error("missing required key 'kind' (a device kind such as 'gpu')")
        try:
            dcls = device_class(kind)
        except Exception as e:  # ConfigError without location
            raise ctx.child("kind").error(getattr(e, "message", str(e))) from None
        return build(dcls.Config, value, ctx)
