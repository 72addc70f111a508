"""Quantities with units, as written in YAML ("3.35 TB/s", "1.98 GHz", "700 W", "96 GiB").

Each quantity has a *dimension*; :func:`parse_quantity` converts a string into the dimension's
canonical unit, named by the suffix that archsim attributes carry (``_bytes_per_s``, ``_hz``...).
Decimal prefixes (k, M, G, T, P and m, u, n, p) and binary prefixes (Ki, Mi, Gi, Ti) follow SI and
IEC 80000-13. ``B`` is a byte and ``b`` a bit, so "400 Gb/s" is 50e9 bytes/s.

A small table-driven parser rather than a units library: it accepts only the units of one
dimension per field, so a wrong unit becomes an error naming what was expected, and it has no
import-time cost in the hot path of sweeps over thousands of design points.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import ConfigError

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SMALL = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}


@dataclass(frozen=True)
class Dimension:
    """A physical dimension: its canonical unit, attribute suffix and accepted units."""

    name: str
    canonical: str
    suffix: str
    units: dict

    def examples(self) -> str:
        return ", ".join(f'"1 {u}"' for u in self.example_units)

    @property
    def example_units(self) -> tuple:
        return _EXAMPLES[self.name]


def _table(bases: dict, prefixes: dict) -> dict:
    out = {}
    for sym, f in bases.items():
        for p, pf in prefixes.items():
            out[p + sym] = f * pf
    return out


_size = {**_table({"B": 1.0, "b": 0.125}, _DECIMAL), **_table({"B": 1.0, "b": 0.125}, _BINARY),
         "byte": 1.0, "bytes": 1.0, "bit": 0.125, "bits": 0.125}
_bw = {}
for _u, _f in _size.items():
    if _u in ("byte", "bytes", "bit", "bits"):
        continue
    _bw[_u + "/s"] = _f
    _bw[_u + "ps"] = _f if _u.endswith("B") else None
_bw = {k: v for k, v in _bw.items() if v is not None}
_time = {**_table({"s": 1.0}, _SMALL), "min": 60.0, "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
         "day": 86400.0, "days": 86400.0, "year": 365.0 * 86400.0, "years": 365.0 * 86400.0}
_energy = _table({"J": 1.0}, {**_SMALL, "k": 1e3, "M": 1e6})
_energy["Wh"] = 3600.0
_energy["kWh"] = 3.6e6
_e_per_bit = {}
for _u, _f in _energy.items():
    _e_per_bit[_u + "/bit"] = _f
    _e_per_bit[_u + "/b"] = _f
    _e_per_bit[_u + "/B"] = _f / 8.0
    _e_per_bit[_u + "/byte"] = _f / 8.0
_e_per_op = {}
for _u, _f in _energy.items():
    for _op in ("FLOP", "flop", "op", "MAC"):
        _e_per_op[f"{_u}/{_op}"] = _f / (2.0 if _op == "MAC" else 1.0)
_flops = _table({"FLOPS": 1.0, "FLOP/s": 1.0, "OPS": 1.0, "OP/s": 1.0}, _DECIMAL)
_usd_h = {"USD/h": 1.0, "USD/hour": 1.0, "USD/hr": 1.0, "$/h": 1.0, "$/hr": 1.0,
          "USD/day": 1 / 24.0, "USD/month": 1 / 730.0, "USD/year": 1 / 8760.0}
_usd_energy = {"USD/kWh": 1.0, "$/kWh": 1.0, "USD/MWh": 1e-3}

DIMENSIONS = {
    "time": Dimension("time", "s", "_s", _time),
    "frequency": Dimension("frequency", "Hz", "_hz", _table({"Hz": 1.0}, _DECIMAL)),
    "size": Dimension("size", "B", "_bytes", _size),
    "bandwidth": Dimension("bandwidth", "B/s", "_bytes_per_s", _bw),
    "power": Dimension("power", "W", "_w", _table({"W": 1.0}, {**_DECIMAL, **_SMALL})),
    "energy": Dimension("energy", "J", "_j", _energy),
    "energy_per_bit": Dimension("energy_per_bit", "J/bit", "_j_per_bit", _e_per_bit),
    "energy_per_flop": Dimension("energy_per_flop", "J/FLOP", "_j_per_flop", _e_per_op),
    "compute": Dimension("compute", "FLOP/s", "_flop_per_s", _flops),
    "money": Dimension("money", "USD", "_usd", {"USD": 1.0, "$": 1.0, "kUSD": 1e3}),
    "money_rate": Dimension("money_rate", "USD/h", "_usd_per_h", _usd_h),
    "energy_price": Dimension("energy_price", "USD/kWh", "_usd_per_kwh", _usd_energy),
}
_EXAMPLES = {
    "time": ("ns", "us", "ms", "s"), "frequency": ("MHz", "GHz"), "size": ("B", "MiB", "GiB", "GB"),
    "bandwidth": ("GB/s", "TB/s", "Gb/s"), "power": ("W", "mW"), "energy": ("pJ", "nJ", "J"),
    "energy_per_bit": ("pJ/bit", "pJ/B"), "energy_per_flop": ("pJ/FLOP", "pJ/MAC"),
    "compute": ("TFLOPS", "GFLOPS"), "money": ("USD",), "money_rate": ("USD/h",),
    "energy_price": ("USD/kWh",),
}

_NUM = re.compile(r"^\s*([-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value, dimension: str, *, key: str | None = None) -> float:
    """Parse ``value`` (e.g. ``"3.35 TB/s"``) into the canonical unit of ``dimension``.

    Parameters
    ----------
    value : str
        A number followed by a unit of ``dimension``. Bare numbers are rejected: a unit is required.
    dimension : str
        A key of :data:`DIMENSIONS`.
    key : str, optional
        Key path used in the error message.

    Returns
    -------
    float
        The value in the dimension's canonical unit (seconds, bytes, bytes/s, W, J, ...).

    Raises
    ------
    ConfigError
        If the string is not a number with a unit of this dimension.
    """
    dim = DIMENSIONS[dimension]
    expected = f"a {dimension.replace('_', ' ')} with a unit, e.g. {dim.examples()}"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"expected {expected}, got {type(value).__name__} {value!r}", key=key)
    if not isinstance(value, str):
        raise ConfigError(f"missing unit in {value!r}: expected {expected}", key=key)
    m = _NUM.match(value)
    if not m:
        raise ConfigError(f"cannot read {value!r}: expected {expected}", key=key)
    number, unit = m.group(1).replace("_", ""), (m.group(2) or "").strip()
    if not unit:
        raise ConfigError(f"missing unit in {value!r}: expected {expected}", key=key)
    factor = dim.units.get(unit)
    if factor is None:
        other = [d.name for d in DIMENSIONS.values() if unit in d.units]
        hint = f" ({unit!r} is a {other[0].replace('_', ' ')} unit)" if other else ""
        raise ConfigError(f"wrong unit {unit!r} in {value!r}{hint}: expected {expected}", key=key)
    result = float(number) * factor
    if not math.isfinite(result):
        raise ConfigError(f"{value!r} is not a finite number", key=key)
    return result


def format_quantity(value: float, dimension: str, unit: str) -> str:
    """Format a canonical value in ``unit`` (the inverse of :func:`parse_quantity`)."""
    return f"{value / DIMENSIONS[dimension].units[unit]:g} {unit}"


def seconds_to_ps(seconds: float) -> int:
    """Convert seconds to integer picoseconds, rounding up (a duration is never shortened).

    The product is first rounded to 1e-3 ps so that float noise (2e-6 s -> 2000000.0000000002)
    does not add a picosecond.
    """
    return int(math.ceil(round(seconds * 1e12, 3)))
