"""Results of a serving run: latency distributions, throughput, goodput, KV memory over time.

Per request: TTFT = first token - arrival; TPOT = (last token - first token) / (output tokens
- 1), for requests of two or more output tokens; end-to-end = last token - arrival. Percentiles
p50/p90/p99 over requests (numpy ``percentile``, linear interpolation). Throughput is output
tokens (and requests) over the makespan, first arrival to last token. Goodput is the rate of
requests that meet every SLO given (TTFT and/or TPOT), over the same makespan, as DistServe
defines it (Zhong et al., OSDI 2024). Energy is every iteration's action counts priced once
by :mod:`archsim.pricing` (with static power over the makespan, per replica), as ``archsim
run`` prices a trace; cost is the design point's cost rate over the makespan.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

PS = 1e-12


def _dist(x) -> dict:
    if not len(x):
        return {"mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    return {"mean": float(np.mean(x)), "p50": float(np.percentile(x, 50)),
            "p90": float(np.percentile(x, 90)), "p99": float(np.percentile(x, 99)),
            "max": float(np.max(x))}


@dataclass
class ServeResult:
    """What a serving run measured (times in integer picoseconds).

    ``iterations`` has one row per iteration: replica, start, end, sequences, tokens processed,
    KV blocks in use after it.
    """

    hw: object
    workload: object
    config: object
    requests: object
    first_ps: np.ndarray
    finish_ps: np.ndarray
    iterations: np.ndarray
    kv_blocks: int
    priced: object
    kv_detail: dict
    preemptions: int
    step_model_calls: int
    wall_s: float = 0.0

    @property
    def ttft_s(self) -> np.ndarray:
        return (self.first_ps - self.requests.arrival_ps) * PS

    @property
    def tpot_s(self) -> np.ndarray:
        o = self.requests.output_tokens
        sel = o > 1
        return (self.finish_ps[sel] - self.first_ps[sel]) / (o[sel] - 1) * PS

    @property
    def e2e_s(self) -> np.ndarray:
        return (self.finish_ps - self.requests.arrival_ps) * PS

    @property
    def makespan_s(self) -> float:
        return float(self.finish_ps.max() - self.requests.arrival_ps.min()) * PS

    def slo_met(self) -> np.ndarray:
        """Per request: whether it meets every SLO given."""
        ok = np.ones(len(self.requests), dtype=bool)
        c = self.config
        if c.slo_ttft_s is not None:
            ok &= self.ttft_s <= c.slo_ttft_s
        if c.slo_tpot_s is not None:
            o = self.requests.output_tokens
            tp = np.zeros(len(o))
            tp[o > 1] = self.tpot_s
            ok &= tp <= c.slo_tpot_s
        return ok

    def to_dict(self) -> dict:
        n = len(self.requests)
        out_tokens = int(self.requests.output_tokens.sum())
        span = self.makespan_s
        it = self.iterations
        c = self.config
        slo = c.slo_ttft_s is not None or c.slo_tpot_s is not None
        met = int(self.slo_met().sum()) if slo else None
        return {
            "requests": n,
            "output_tokens": out_tokens,
            "prompt_tokens": int(self.requests.prompt_tokens.sum()),
            "makespan_s": span,
            "throughput_tokens_per_s": out_tokens / span,
            "throughput_requests_per_s": n / span,
            "ttft_s": _dist(self.ttft_s),
            "tpot_s": _dist(self.tpot_s),
            "e2e_s": _dist(self.e2e_s),
            "slo": {"ttft_s": c.slo_ttft_s, "tpot_s": c.slo_tpot_s,
                    "met": met, "attained": met / n if slo else None,
                    "goodput_requests_per_s": met / span if slo else None},
            "energy_j": self.priced.energy_j,
            "energy_per_token_j": self.priced.energy_j / out_tokens,
            "cost_rate_usd_per_h": self._cost_rate(),
            "usd_per_mtok": (None if self._cost_rate() is None else
                             self._cost_rate() * span / 3600 / out_tokens * 1e6),
            "iterations": int(len(it)),
            "mean_batch": float(it[:, 3].mean()) if len(it) else 0.0,
            "preemptions": self.preemptions,
            "kv_cache": {"blocks": self.kv_blocks, "block_tokens": c.block_tokens,
                         "peak_blocks_used": int(it[:, 5].max()) if len(it) else 0,
                         "devices": self.kv_detail},
            "run": {"hardware": self.hw.name, "model": self.workload.model.name,
                    "replicas": c.replicas, "arrivals": c.arrivals,
                    "rate_per_s": c.rate_per_s, "seed": c.seed,
                    "max_batch": c.max_batch, "max_tokens_per_step": c.max_tokens_per_step,
                    "chunked_prefill": c.chunked_prefill,
                    "step_model_calls": self.step_model_calls,
                    "simulator_wall_s": self.wall_s},
        }

    def _cost_rate(self):
        r = self.priced.cost_rate_usd_per_h
        return None if r is None else r * self.config.replicas

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self) -> str:
        d = self.to_dict()
        ms = lambda x: "-" if x is None else f"{x * 1e3:.2f}"  # noqa: E731
        lines = [f"{d['run']['hardware']} serving {d['run']['model']}: {d['requests']} "
                 f"requests, {d['output_tokens']} output tokens in {d['makespan_s']:.3f} s",
                 f"throughput   {d['throughput_tokens_per_s']:.1f} tokens/s, "
                 f"{d['throughput_requests_per_s']:.3f} requests/s",
                 f"{'(ms)':<12} {'mean':>9} {'p50':>9} {'p90':>9} {'p99':>9}"]
        for k in ("ttft_s", "tpot_s", "e2e_s"):
            v = d[k]
            lines.append(f"{k[:-2].upper():<12} {ms(v['mean']):>9} {ms(v['p50']):>9} "
                         f"{ms(v['p90']):>9} {ms(v['p99']):>9}")
        s = d["slo"]
        if s["met"] is not None:
            lines.append(f"SLO          {s['met']}/{d['requests']} requests met "
                         f"({s['attained']:.1%}), goodput {s['goodput_requests_per_s']:.3f} "
                         "requests/s")
        lines.append(f"energy       {d['energy_per_token_j'] * 1e3:.2f} mJ/token"
                     + ("" if d["usd_per_mtok"] is None else
                        f", {d['usd_per_mtok']:.3f} USD per million output tokens"))
        kv = d["kv_cache"]
        lines.append(f"iterations   {d['iterations']}, mean batch {d['mean_batch']:.1f}, "
                     f"preemptions {d['preemptions']}, KV blocks peak "
                     f"{kv['peak_blocks_used']}/{kv['blocks']}")
        return "\n".join(lines)

    def plot(self, path) -> None:
        """KV cache use and batch size over time, and the TTFT / TPOT distributions."""
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        it = self.iterations
        fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
        t = it[:, 2] * PS
        ax[0].step(t, it[:, 5] / self.kv_blocks * 100, where="post", lw=0.8)
        ax[0].set(xlabel="time (s)", ylabel="KV blocks in use (%)", title="KV cache")
        ax[1].step(t, it[:, 3], where="post", lw=0.8, color="C1")
        ax[1].set(xlabel="time (s)", ylabel="sequences per iteration", title="batch")
        for x, lab in ((self.ttft_s, "TTFT"), (self.tpot_s, "TPOT")):
            if len(x):
                xs = np.sort(x) * 1e3
                ax[2].plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=lab)
        ax[2].set(xscale="log", xlabel="ms", ylabel="fraction of requests", title="latency CDF")
        ax[2].legend()
        fig.tight_layout()
        from ..fsutil import write_atomic
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        write_atomic(path, buf.getvalue())
