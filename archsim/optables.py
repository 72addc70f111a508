"""Per-op-kind and per-op tables of a run, with energy (CSV and ``pandas.DataFrame``).

Two tables besides the per-step one (:meth:`RunResult.to_csv`):

* **kinds**: one row per (device, op kind) with the ops run, the device time they took and
  their dynamic energy, one ``(static power)`` row per device and one row per link; the
  ``energy_j`` column sums to the run's energy.
* **ops**: one row per (device, op name, kind, layer): occurrences over all steps (a decode op
  repeats in every step), device time, FLOPs, bytes and dynamic energy (action counts times
  the device's energy table, as :mod:`archsim.pricing` prices them). Time is device busy time:
  ops on different devices overlap, so it does not add up to the latency.

The per-op table is rebuilt after the run from the trace, the mapping and the op costs (pure
functions of the op; memoized per distinct op object, as the engine does), because the engine
keeps only the per-kind sums.
"""
from __future__ import annotations

import csv
import io

PS = 1e-12
KIND_COLUMNS = ("device", "kind", "ops", "busy_s", "energy_j")
OP_COLUMNS = ("device", "op", "kind", "layer", "count", "busy_s", "flops", "bytes",
              "energy_j")
TABLES = ("steps", "kinds", "ops")


def kind_rows(result) -> list:
    """Rows of the per-kind table (dicts keyed by :data:`KIND_COLUMNS`)."""
    e = result.energy_breakdown_j()
    rows = []
    for (dev, kind), ps in sorted(result.time_by_kind.items()):
        dyn = e["devices"].get(dev, {}).get("dynamic", {}).get(kind, {})
        rows.append({"device": dev, "kind": kind, "ops": result.ops_by_kind.get((dev, kind), 0),
                     "busy_s": ps * PS, "energy_j": sum(dyn.values())})
    for dev, v in e["devices"].items():
        rows.append({"device": dev, "kind": "(static power)", "ops": 0,
                     "busy_s": result.latency_s, "energy_j": v["static"]})
    for name, (_nbytes, busy) in sorted(result.link_stats.items()):
        rows.append({"device": f"link {name}", "kind": "transfer", "ops": 0,
                     "busy_s": busy * PS, "energy_j": e["links"].get(name, 0.0)})
    return rows


def op_rows(result) -> list:
    """Rows of the per-op table (dicts keyed by :data:`OP_COLUMNS`), in first-run order."""
    from .engine.simulator import Simulator
    sim = Simulator(result.hw)
    seen: dict = {}          # (where, id(op)) -> [where, op, count]
    for step in result.trace.steps:
        for where, op in zip(sim.mapper.map_step(step), step.ops):
            hit = seen.get((where, id(op)))
            if hit is None:
                seen[(where, id(op))] = [where, op, 1]
            else:
                hit[2] += 1
    tables = result.priced.energy_tables_pj
    agg: dict = {}
    for where, op, n in seen.values():
        c = sim.cost(where, op)
        for dev in (where if type(where) is tuple else (where,)):
            table = tables.get(dev, {})
            pj = sum(v * table[a] for a, v in c.actions.items() if a in table)
            key = (dev, op.name, op.kind.value, op.layer)
            row = agg.get(key)
            if row is None:
                row = agg[key] = {"device": dev, "op": op.name, "kind": op.kind.value,
                                  "layer": op.layer, "count": 0, "busy_s": 0.0, "flops": 0,
                                  "bytes": 0, "energy_j": 0.0}
            row["count"] += n
            row["busy_s"] += c.duration_ps * n * PS
            row["flops"] += op.flops * n
            row["bytes"] += (op.bytes_read + op.bytes_written) * n
            row["energy_j"] += pj * n * 1e-12
    return list(agg.values())


def rows(result, table: str) -> tuple:
    """``(columns, rows)`` of ``table`` (``kinds`` or ``ops``)."""
    if table == "kinds":
        return KIND_COLUMNS, kind_rows(result)
    if table == "ops":
        return OP_COLUMNS, op_rows(result)
    raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")


def to_csv(result, table: str) -> str:
    """``table`` as CSV text (floats with 9 significant digits)."""
    columns, data = rows(result, table)
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(columns)
    for r in data:
        wr.writerow([f"{r[c]:.9g}" if isinstance(r[c], float) else r[c] for c in columns])
    return buf.getvalue()
