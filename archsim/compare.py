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
                rate = r.cost_rate_usd_per_h()
                dec = decode_tokens_per_s(r)
                row[h] = {"ms_per_token": r.latency_s / r.tokens * 1e3,
                          "tpot_ms": (r.tpot_s["mean"] or r.latency_s) * 1e3,
                          "mj_per_token": r.energy_per_token_j * 1e3,
                          "batch": r.batch, "tokens_per_s": r.tokens_per_s,
                          "decode_tokens_per_s": dec, "usd_per_h": rate,
                          "decode_tokens_per_s_per_usd_per_h": dec / rate if rate else None,
                          "usd_per_mtok": r.usd_per_mtok,
                          "device_s_per_token": by_class(r),
                          "components": components(r)}
                if h != target:
                    row[h]["speedup"] = r.latency_s / t.latency_s
                    row[h]["energy_efficiency"] = r.energy_per_token_j / t.energy_per_token_j
            out.append(row)
        return out

    def throughput_table(self) -> str:
        """Per workload and design point: batch, decode throughput, cost, energy, and where the
        device time goes (dense ops, attention, collectives; link busy time)."""
        lines = [f"{'workload':<16} {'design point':<22} {'batch':>6} {'decode tok/s':>13} "
                 f"{'USD/h':>8} {'tok/s per USD/h':>16} {'mJ/token':>10}   device ms/token: "
                 "dense / attention / collective; link busy ms/token"]
        for row in self.rows():
            for h in self.hardware:
                r = row[h]
                usd = f"{r['usd_per_h']:.2f}" if r["usd_per_h"] else "-"
                per = f"{r['decode_tokens_per_s_per_usd_per_h']:.1f}" \
                    if r["decode_tokens_per_s_per_usd_per_h"] else "-"
                c = r["device_s_per_token"]
                lines.append(f"{row['workload']:<16} {h:<22} {r['batch']:>6} "
                             f"{r['decode_tokens_per_s']:>13.1f} {usd:>8} {per:>16} "
                             f"{r['mj_per_token']:>10.3f}   {c['dense'] * 1e3:.4f} / "
                             f"{c['attention'] * 1e3:.4f} / {c['collective'] * 1e3:.4f}; "
                             f"{c['links'] * 1e3:.4f}")
        return "\n".join(lines)

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
                    wait = c.get("host_wait_ms_per_token", {}).get(dev)
                    if wait is not None:
                        lines.append(f"  {dev} waiting for its host ms/token: {wait:.4f}")
                for dev, acts in c["energy_mj_per_token"].items():
                    parts = ", ".join(f"{k} {v:.4f}" for k, v in
                                      sorted(acts.items(), key=lambda kv: -kv[1]))
                    lines.append(f"  {dev} energy mJ/token: {parts}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"target": self.hardware[0], "baselines": self.hardware[1:], "rows": self.rows()}

    def to_table(self) -> str:
        target, bases = self.hardware[0], self.hardware[1:]
        head = f"{'workload':<16} {target + ' ms/tok':>20} {'USD/Mtok':>9}"
        for b in bases:
            head += f" {b + ' ms/tok':>24} {'speed-up':>9} {'energy eff.':>11} {'USD/Mtok':>9}"
        lines = [head]
        for row in self.rows():
            line = (f"{row['workload']:<16} {row[target]['ms_per_token']:>20.4f} "
                    f"{_usd(row[target]['usd_per_mtok']):>9}")
            for b in bases:
                r = row[b]
                line += (f" {r['ms_per_token']:>24.4f} {r['speedup']:>8.1f}x "
                         f"{r['energy_efficiency']:>10.1f}x {_usd(r['usd_per_mtok']):>9}")
            lines.append(line)
        return "\n".join(lines)


def _usd(v) -> str:
    """A cost figure, or ``-`` where the design point has no price."""
    return f"{v:.3f}" if v else "-"


def decode_tokens_per_s(r) -> float:
    """Tokens per second of the decode steps: the tokens they yield over their time."""
    steps = [(int(ps), s) for ps, s in zip(r.step_ps, r.trace.steps) if s.phase.value != "prefill"]
    t = sum(ps for ps, _ in steps) * 1e-12
    return sum(s.yielded_tokens for _, s in steps) / t if t else r.tokens_per_s


#: op kinds counted as attention in :func:`by_class` (the rest but collectives is dense)
ATTENTION_CLASS = ("attention_score", "attention_context", "softmax")


def by_class(r) -> dict:
    """Device time per generated token (s) in dense ops, attention and collectives, summed
    over devices, and link busy time per token, summed over links."""
    out = {"dense": 0.0, "attention": 0.0, "collective": 0.0}
    for (_, kind), ps in r.time_by_kind.items():
        k = "attention" if kind in ATTENTION_CLASS else "collective" if kind == "collective" \
            else "dense"
        out[k] += ps * 1e-12 / r.tokens
    out["links"] = sum(busy for _, busy in r.link_stats.values()) * 1e-12 / r.tokens
    return out


def components(r) -> dict:
    """Time (ms/token) by device and op kind, energy (mJ/token) by device and priced action
    (plus ``static``), and link energy, from a :class:`~archsim.results.RunResult`; for devices
    with a host stack, the time they waited for their host (ms/token)."""
    b = r.breakdown()
    per = 1e3 / r.tokens
    time = {dev: {k: v * per for k, v in kinds.items()} for dev, kinds in b["time_s"].items()}
    energy = {dev: {**{a: j * per for a, j in e["by_action"].items()}, "static": e["static"] * per}
              for dev, e in b["energy_j"].items()}
    for name, link in b["links"].items():
        if link["energy_j"]:
            energy.setdefault(f"link {name}", {})["transfer"] = link["energy_j"] * per
    out = {"time_ms_per_token": time, "energy_mj_per_token": energy}
    if "host_wait_s" in b:      # devices with an eager host stack only
        out["host_wait_ms_per_token"] = {d: s * per for d, s in b["host_wait_s"].items()}
    return out


def compare(target, baselines, workloads, *, overrides=(), progress=False,
            runs_progress=False) -> Comparison:
    """Run every workload on ``target`` and each baseline (paths, dicts or configs).

    ``progress`` shows each run's steps (on a terminal); ``runs_progress`` reports the runs
    done, their rate and the ETA on stderr (:class:`archsim.progress.Progress`).

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
    from .progress import Progress
    bar = Progress(len(wls) * len(hws), "compare", unit="runs", enabled=bool(runs_progress))
    bar.start()
    for i, w in enumerate(wls):
        name = w.name or f"workload{i}"
        wnames.append(name)
        # each design point runs the trace its own transforms and batch make of the workload
        # (the analytic trace is generated once per batch size)
        traces: dict = {}
        prepared = [prepare(h, w, sim, traces) for h, sim in zip(hws, sims)]
        for h, (trace, sim) in zip(hws, prepared):
            results[(name, h.name)] = sim.run(trace, progress=progress)
            bar.update()
    bar.close()
    return Comparison(wnames, names, results)
