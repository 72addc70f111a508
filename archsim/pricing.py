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
    priced_cost_rate_usd_per_h : float or None
        The part of the cost rate the priced devices account for (equal to
        ``cost_rate_usd_per_h`` when every device has a price; ``None`` when none has).
    unpriced_devices : tuple of str
        Devices without a price on the design point's cost basis.
    """

    energy: dict
    energy_j: float
    energy_tables_pj: dict
    cost_rate_usd_per_h: float | None
    priced_cost_rate_usd_per_h: float | None = None
    unpriced_devices: tuple = ()


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
    rate, priced_rate, unpriced = cost_rates(system, power_w)
    return Priced(energy, total, tables, rate, priced_rate, unpriced)


def cost_rate(system, average_power_w: float) -> float | None:
    """Cost of the design point per hour of operation, or ``None`` if prices are missing."""
    return cost_rates(system, average_power_w)[0]


def cost_rates(system, average_power_w: float) -> tuple:
    """``(cost per hour or None, cost per hour of the priced devices or None, names of the
    devices without a price)``.

    Rental: the sum of the devices' prices. Capex: capital cost amortised over the lifetime,
    plus the electricity of the whole design point (its average power x PUE), which is known
    even when some device has no capital cost.
    """
    cm = system.hw.cost
    field = "rental_usd_per_h" if cm.basis == "rental" else "capex_usd"
    prices = {name: getattr(getattr(d.config, "cost", None), field, None)
              for name, d in system.devices.items()}
    unpriced = tuple(n for n, p in prices.items() if p is None)
    known = [p for p in prices.values() if p is not None]
    if not known:
        return None, None, unpriced
    if cm.basis == "rental":
        priced = float(sum(known))
    else:
        priced = sum(known) / (cm.lifetime_s / 3600.0) + \
            average_power_w * cm.pue / 1000.0 * cm.electricity_price_usd_per_kwh
    return (None if unpriced else priced), priced, unpriced
