"""Pricing: action counts times energy tables, static power over time, and money.

"Count, then price" (as in Accelergy): devices report action counts; this module prices them
once, after the run, with each device's energy table (pJ per action). It is strict: a counted
action the device's table has no price for is an error naming the device and the action, unless
the device declares the action informational (:meth:`Device.informational_actions`: counts kept
for inspection, such as cycles, that carry no energy of their own). Static power is charged
over the whole run for every device; link energy is bytes moved times the link's energy per bit.
Cost is a rental price per hour, or capital cost amortised over a lifetime plus electricity.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import SimulationError

PS = 1e-12


@dataclass(frozen=True)
class Priced:
    """Energy and cost of one run.

    Attributes
    ----------
    energy : dict
        ``{"devices": {device: {"dynamic": {kind: {action: J}}, "static": J}},
        "links": {link: J}}``.
    energy_j : float
        Everything in ``energy``, summed.
    energy_tables_pj : dict
        Each device's table, as used.
    cost_rate_usd_per_h : float or None
        Cost per hour of operation; ``None`` when a device has no price.
    """

    energy: dict
    energy_j: float
    energy_tables_pj: dict
    cost_rate_usd_per_h: float | None


def price(system, latency_ps: int, actions: dict, link_stats: dict) -> Priced:
    """Price the action counts of a run of ``latency_ps`` on ``system``.

    Raises
    ------
    SimulationError
        When a device counted an action its energy table does not price.
    """
    latency_s = latency_ps * PS
    tables = {n: d.energy_table() for n, d in system.devices.items()}
    info = {n: d.informational_actions() for n, d in system.devices.items()}
    out: dict = {}
    for (dev, kind, action), n in actions.items():
        pj = tables[dev].get(action)
        if pj is None:
            if action in info[dev]:
                continue
            raise SimulationError(f"device {dev!r} counted action {action!r} ({kind} ops) but "
                                  f"its energy table has no price for it (priced: "
                                  f"{', '.join(sorted(tables[dev])) or 'nothing'})")
        dyn = out.setdefault(dev, {"dynamic": {}, "static": 0.0})["dynamic"]
        dyn.setdefault(kind, {})
        dyn[kind][action] = dyn[kind].get(action, 0.0) + n * pj * 1e-12
    for name, dev in system.devices.items():
        out.setdefault(name, {"dynamic": {}, "static": 0.0})
        out[name]["static"] = dev.static_power_w() * latency_s
    links = {}
    by_name = system.link_by_name
    for name, (nbytes, _busy) in link_stats.items():
        links[name] = nbytes * by_name[name].energy_pj_per_byte * 1e-12
    energy = {"devices": out, "links": links}
    total = sum(sum(sum(a.values()) for a in d["dynamic"].values()) + d["static"]
                for d in out.values()) + sum(links.values())
    power_w = total / latency_s if latency_s else 0.0
    return Priced(energy, total, tables, cost_rate(system, power_w))


def cost_rate(system, average_power_w: float) -> float | None:
    """Cost of the design point per hour of operation, or ``None`` if prices are missing."""
    cm = system.hw.cost
    devs = [d.config for d in system.devices.values()]
    if cm.basis == "rental":
        rates = [getattr(getattr(c, "cost", None), "rental_usd_per_h", None) for c in devs]
        return None if any(r is None for r in rates) else float(sum(rates))
    capex = [getattr(getattr(c, "cost", None), "capex_usd", None) for c in devs]
    if any(c is None for c in capex):
        return None
    per_h = sum(capex) / (cm.lifetime_s / 3600.0)
    return per_h + average_power_w * cm.pue / 1000.0 * cm.electricity_price_usd_per_kwh
