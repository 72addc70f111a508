"""Compare design points on the same workloads: latency per token, speed-up, energy efficiency.

Each workload's trace is generated once and replayed on every design point. Speed-up of the
target over a baseline is ``baseline latency / target latency``; energy efficiency is
``baseline energy per token / target energy per token`` (the ratio of tokens per joule).
"""
from __future__ import annotations

from dataclasses import dataclass

from .api import prepare, split_overrides
from .engine.simulator import Simulator
from .hardware import load_hardware
from .workload import load_workload


@dataclass
class Comparison:
    """Results of every (workload, design point) pair, in input order."""

    workloads: list    # names
    hardware: list     # names
    results: dict      # (workload, hardware) -> RunResult

    def rows(self) -> list:
        target = self.hardware[0]
        out = []
        for w in self.workloads:
            t = self.results[(w, target)]
            row = {"workload": w, "model": (t.trace.workload.get("model") or {}).get("name"),
                   "tokens": t.tokens}
            for h in self.hardware:
                r = self.results[(w, h)]
                row[h] = {"ms_per_token": r.latency_s / r.tokens * 1e3,
                          "tpot_ms": (r.tpot_s["mean"] or r.latency_s) * 1e3,
                          "mj_per_token": r.energy_per_token_j * 1e3,
                          "components": components(r)}
                if h != target:
                    row[h]["speedup"] = r.latency_s / t.latency_s
                    row[h]["energy_efficiency"] = r.energy_per_token_j / t.energy_per_token_j
            out.append(row)
        return out

    def breakdown_table(self) -> str:
        """Per workload and design point: time and energy per token by device and component."""
        lines = []
        for row in self.rows():
            for h in self.hardware:
                c = row[h]["components"]
                lines.append(f"{row['workload']} on {h}:")
                for dev, kinds in c["time_ms_per_token"].items():
                    parts = ", ".join(f"{k} {v:.4f}" for k, v in
                                      sorted(kinds.items(), key=lambda kv: -kv[1]))
                    lines.append(f"  {dev} time ms/token: {parts}")
                for dev, acts in c["energy_mj_per_token"].items():
                    parts = ", ".join(f"{k} {v:.4f}" for k, v in
                                      sorted(acts.items(), key=lambda kv: -kv[1]))
                    lines.append(f"  {dev} energy mJ/token: {parts}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"target": self.hardware[0], "baselines": self.hardware[1:], "rows": self.rows()}

    def to_table(self) -> str:
        target, bases = self.hardware[0], self.hardware[1:]
        head = f"{'workload':<16} {target + ' ms/tok':>20}"
        for b in bases:
            head += f" {b + ' ms/tok':>24} {'speed-up':>9} {'energy eff.':>11}"
        lines = [head]
        for row in self.rows():
            line = f"{row['workload']:<16} {row[target]['ms_per_token']:>20.4f}"
            for b in bases:
                r = row[b]
                line += (f" {r['ms_per_token']:>24.4f} {r['speedup']:>8.1f}x "
                         f"{r['energy_efficiency']:>10.1f}x")
            lines.append(line)
        return "\n".join(lines)


def components(r) -> dict:
    """Time (ms/token) by device and op kind, energy (mJ/token) by device and priced action
    (plus ``static``), and link energy, from a :class:`~archsim.results.RunResult`."""
    b = r.breakdown()
    per = 1e3 / r.tokens
    time = {dev: {k: v * per for k, v in kinds.items()} for dev, kinds in b["time_s"].items()}
    energy = {dev: {**{a: j * per for a, j in e["by_action"].items()}, "static": e["static"] * per}
              for dev, e in b["energy_j"].items()}
    for name, link in b["links"].items():
        if link["energy_j"]:
            energy.setdefault(f"link {name}", {})["transfer"] = link["energy_j"] * per
    return {"time_ms_per_token": time, "energy_mj_per_token": energy}


def compare(target, baselines, workloads, *, overrides=(), progress=False) -> Comparison:
    """Run every workload on ``target`` and each baseline (paths, dicts or configs).

    ``overrides`` apply to every workload (``batch_size=...``) and, for hardware keys, to every
    design point.
    """
    hw_over, wl_over = split_overrides(overrides)
    hws = [load_hardware(h, hw_over) for h in [target, *baselines]]
    names = [h.name for h in hws]
    if len(set(names)) != len(names):
        from .errors import ConfigError
        raise ConfigError("design points to compare must have distinct names: "
                          + ", ".join(names))
    wls = [load_workload(w, wl_over) for w in workloads]
    sims = [Simulator(h) for h in hws]
    results = {}
    wnames = []
    for i, w in enumerate(wls):
        name = w.name or f"workload{i}"
        wnames.append(name)
        # each design point runs the trace its own transforms and batch make of the workload
        # (the analytic trace is generated once per batch size)
        traces: dict = {}
        prepared = [prepare(h, w, sim, traces) for h, sim in zip(hws, sims)]
        for h, (trace, sim) in zip(hws, prepared):
            results[(name, h.name)] = sim.run(trace, progress=progress)
    return Comparison(wnames, names, results)
