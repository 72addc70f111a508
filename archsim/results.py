"""Results of a simulated generation: latency, energy and cost, with breakdowns.

A :class:`RunResult` holds what the engine measured (step times, time and action counts per
device and op kind, link traffic) and what :mod:`archsim.pricing` made of it, once, after the
run (energy by device, kind and action; cost rate). Token counts come from the trace's steps:
a step yields ``Step.yielded_tokens`` tokens and the first token of
``Step.first_token_sequences`` sequences, so tokens, TTFT and TPOT stay right when a step yields
several tokens per sequence (speculative decoding) or mixes prefill and decode.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

PS = 1e-12


@dataclass
class RunResult:
    """Everything measured in one run; derived figures are properties.

    ``step_ps[i]`` is how far step ``i`` moved the completion frontier (the end of the latest op
    so far): with barriers between steps, its duration; summed, the makespan.
    ``step_start_ps`` / ``step_end_ps`` are absolute. ``host_wait_ps[device]``: how long the
    queue of a device with a host software stack (eager GPU) waited for its host to issue ops
    (devices without one are absent).
    """

    hw: object
    system: object
    trace: object
    step_ps: np.ndarray
    time_by_kind: dict
    ops_by_kind: dict
    actions: dict
    link_stats: dict
    priced: object
    step_start_ps: np.ndarray | None = None
    step_end_ps: np.ndarray | None = None
    timeline: list | None = None
    wall_s: float = 0.0
    host_wait_ps: dict = field(default_factory=dict)

    # ---- latency -------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        return self.trace.steps[0].batch

    @property
    def tokens(self) -> int:
        """Generated tokens, summed over steps (``Step.yielded_tokens``)."""
        return sum(s.yielded_tokens for s in self.trace.steps)

    @property
    def latency_s(self) -> float:
        return int(self.step_ps.sum()) * PS

    @property
    def ttft_s(self) -> float:
        """Mean time to first token over sequences: each sequence's first token arrives when
        the step that yields it ends (the prefill step in plain AR decoding)."""
        ends = self.step_end_ps if self.step_end_ps is not None else np.cumsum(self.step_ps)
        firsts = [(s.first_token_sequences, int(e)) for s, e in zip(self.trace.steps, ends)
                  if s.first_token_sequences]
        if not firsts:
            return int(ends[0]) * PS
        if len(firsts) == 1:
            return firsts[0][1] * PS
        return sum(n * e for n, e in firsts) / sum(n for n, _ in firsts) * PS

    @property
    def decode_ps(self) -> np.ndarray:
        """Time per output token per sequence of each decode (or mixed) step: the step's time
        over the tokens it yields per sequence."""
        sel = [(int(d), s) for d, s in zip(self.step_ps, self.trace.steps)
               if s.phase.value != "prefill"]
        if all(s.yielded_tokens == s.batch for _, s in sel):
            return np.array([d for d, _ in sel], dtype=np.int64)
        return np.array([d * s.batch / s.yielded_tokens for d, s in sel], dtype=np.float64)

    @property
    def tpot_s(self) -> dict:
        d = self.decode_ps
        if not len(d):
            return {"mean": None, "p50": None, "p99": None}
        return {"mean": float(d.mean()) * PS, "p50": float(np.percentile(d, 50)) * PS,
                "p99": float(np.percentile(d, 99)) * PS}

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.latency_s if self.latency_s else 0.0

    # ---- energy (priced once, by archsim.pricing) ----------------------------------------
    def energy_breakdown_j(self) -> dict:
        """Energy in J: ``{device: {"dynamic": {kind: {action: J}}, "static": J}}`` and links."""
        return self.priced.energy

    @property
    def energy_j(self) -> float:
        return self.priced.energy_j

    @property
    def energy_per_token_j(self) -> float:
        return self.energy_j / self.tokens

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.latency_s if self.latency_s else 0.0

    # ---- cost ----------------------------------------------------------------------------
    def cost_rate_usd_per_h(self) -> float | None:
        """Cost of the design point per hour of operation, or ``None`` if prices are missing."""
        return self.priced.cost_rate_usd_per_h

    @property
    def unpriced_devices(self) -> tuple:
        """Devices without a price on the design point's cost basis (their cost is missing
        from :meth:`partial_cost_rate_usd_per_h` and makes the full cost unknown)."""
        return tuple(getattr(self.priced, "unpriced_devices", ()))

    def partial_cost_rate_usd_per_h(self) -> float | None:
        """Cost per hour of the priced devices only (the full cost when every device has a
        price; ``None`` when none has)."""
        return getattr(self.priced, "priced_cost_rate_usd_per_h", None)

    @property
    def usd_per_mtok(self) -> float | None:
        rate = self.cost_rate_usd_per_h()
        if rate is None or not self.tokens_per_s:
            return None
        return rate / 3600.0 / self.tokens_per_s * 1e6

    @property
    def tokens_per_s_per_usd_per_h(self) -> float | None:
        rate = self.cost_rate_usd_per_h()
        return self.tokens_per_s / rate if rate else None

    # ---- breakdown and export ------------------------------------------------------------
    def breakdown(self) -> dict:
        time_s: dict = {}
        for (dev, kind), ps in sorted(self.time_by_kind.items()):
            time_s.setdefault(dev, {})[kind] = ps * PS
        ops: dict = {}
        for (dev, kind), n in sorted(self.ops_by_kind.items()):
            ops.setdefault(dev, {})[kind] = n
        counts: dict = {}
        for (dev, kind, action), n in sorted(self.actions.items()):
            counts.setdefault(dev, {}).setdefault(kind, {})[action] = n
        e = self.energy_breakdown_j()
        energy = {dev: {"static": v["static"],
                        "by_kind": {k: sum(a.values()) for k, a in v["dynamic"].items()},
                        "by_action": _sum_actions(v["dynamic"])}
                  for dev, v in e["devices"].items()}
        links = {name: {"bytes": b, "busy_s": busy * PS, "energy_j": e["links"].get(name, 0.0)}
                 for name, (b, busy) in self.link_stats.items()}
        out = {"time_s": time_s, "ops": ops, "energy_j": energy, "links": links,
               "action_counts": counts, "energy_tables_pj": self.priced.energy_tables_pj}
        if self.host_wait_ps:     # only devices with a host stack: other outputs unchanged
            out["host_wait_s"] = {d: ps * PS for d, ps in sorted(self.host_wait_ps.items())}
        return out

    def to_dict(self) -> dict:
        """The JSON result (keys documented in the README)."""
        w = self.trace.workload or {}
        return {
            "latency_s": self.latency_s, "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
            "tokens_per_s": self.tokens_per_s, "energy_j": self.energy_j,
            "energy_per_token_j": self.energy_per_token_j, "usd_per_mtok": self.usd_per_mtok,
            "tokens_per_s_per_usd_per_h": self.tokens_per_s_per_usd_per_h,
            "average_power_w": self.average_power_w,
            "cost_rate_usd_per_h": self.cost_rate_usd_per_h(),
            "cost_unpriced_devices": list(self.unpriced_devices),
            "partial_cost_rate_usd_per_h": self.partial_cost_rate_usd_per_h(),
            "breakdown": self.breakdown(),
            "run": {"hardware": self.hw.name, "workload": w.get("name"),
                    "model": (w.get("model") or {}).get("name"), "batch": self.batch,
                    "steps": len(self.trace.steps), "tokens": self.tokens,
                    "trace_source": self.trace.source, "simulator_wall_s": self.wall_s},
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), indent=kw.pop("indent", 2), **kw)

    def summary_rows(self) -> list:
        t = self.tpot_s
        rows = [("hardware", self.hw.name),
                ("workload", (self.trace.workload or {}).get("name") or "-"),
                ("tokens generated", self._tokens_text()),
                ("end-to-end latency", f"{self.latency_s * 1e3:.3f} ms"),
                ("TTFT", f"{self.ttft_s * 1e3:.3f} ms")]
        if t["mean"] is not None:
            rows.append(("TPOT mean / p50 / p99", f"{t['mean'] * 1e3:.3f} / {t['p50'] * 1e3:.3f} "
                         f"/ {t['p99'] * 1e3:.3f} ms"))
        rows += [("throughput", f"{self.tokens_per_s:.1f} tokens/s"),
                 ("energy", f"{self.energy_j:.3f} J ({self.energy_per_token_j * 1e3:.3f} mJ/token)"),
                 ("average power", f"{self.average_power_w:.1f} W")]
        rows.append(("cost", self._cost_text()))
        return rows

    def _cost_text(self) -> str:
        u = self.usd_per_mtok
        if u is not None:
            return f"{u:.3f} USD per million tokens"
        missing = self.unpriced_devices
        partial = self.partial_cost_rate_usd_per_h()
        if partial is None or not missing:
            return "no prices given"
        part = partial / 3600.0 / self.tokens_per_s * 1e6 if self.tokens_per_s else 0.0
        return (f"partial: {part:.3f} USD per million tokens for the priced devices only; "
                f"no price for {_names(missing)}")

    def _tokens_text(self) -> str:
        n = len(self.trace.steps)
        if self.tokens == self.batch * n:
            return f"{self.tokens} ({self.batch} x {n})"
        return f"{self.tokens} over {n} steps"

    def to_table(self) -> str:
        rows = self.summary_rows()
        w = max(len(k) for k, _ in rows)
        lines = [f"{k:<{w}}  {v}" for k, v in rows]
        b = self.breakdown()
        lines.append("")
        lines.append(f"{'device':<10} {'op kind':<18} {'ops':>8} {'time ms':>11} {'energy mJ':>11}")
        for dev, kinds in b["time_s"].items():
            e = b["energy_j"][dev]["by_kind"]
            for kind, s in sorted(kinds.items(), key=lambda kv: -kv[1]):
                lines.append(f"{dev:<10} {kind:<18} {b['ops'][dev][kind]:>8} {s * 1e3:>11.3f} "
                             f"{e.get(kind, 0.0) * 1e3:>11.3f}")
            lines.append(f"{dev:<10} {'(static power)':<18} {'':>8} {'':>11} "
                         f"{b['energy_j'][dev]['static'] * 1e3:>11.3f}")
            if dev in b.get("host_wait_s", {}):
                lines.append(f"{dev:<10} {'(waiting for host)':<18} {'':>8} "
                             f"{b['host_wait_s'][dev] * 1e3:>11.3f}")
        for name, s in b["links"].items():
            lines.append(f"link {name}: {s['bytes'] / 1e6:.3f} MB, busy {s['busy_s'] * 1e3:.3f} ms,"
                         f" {s['energy_j'] * 1e3:.3f} mJ")
        return "\n".join(lines)

    def to_csv(self, table: str = "steps") -> str:
        """One row per step (index, phase, context length, duration); ``table="kinds"`` or
        ``"ops"``: per op kind or per op, with energy (:mod:`archsim.optables`)."""
        if table != "steps":
            from .optables import to_csv
            return to_csv(self, table)
        buf = io.StringIO()
        wr = csv.writer(buf)
        wr.writerow(["step", "phase", "batch", "new_tokens", "context_len", "duration_s"])
        for s, ps in zip(self.trace.steps, self.step_ps):
            wr.writerow([s.index, s.phase.value, s.batch, s.new_tokens, s.context_len,
                         f"{int(ps) * PS:.9g}"])
        return buf.getvalue()

    def to_dataframe(self, table: str = "steps"):
        """Per-step results (or ``table="kinds"`` / ``"ops"``: per op kind or per op, with
        energy) as a ``pandas.DataFrame`` (needs the ``dataframe`` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install 'archsim[dataframe]'") \
                from None
        if table != "steps":
            from .optables import rows
            columns, data = rows(self, table)
            return pd.DataFrame(data, columns=list(columns))
        return pd.read_csv(io.StringIO(self.to_csv()))


def _names(devices, shown: int = 6) -> str:
    """``a, b, c`` (at most ``shown`` names, then how many more)."""
    devices = list(devices)
    more = f" and {len(devices) - shown} more" if len(devices) > shown else ""
    return ", ".join(devices[:shown]) + more


def _sum_actions(dynamic: dict) -> dict:
    out: dict = {}
    for acts in dynamic.values():
        for a, j in acts.items():
            out[a] = out.get(a, 0.0) + j
    return out
