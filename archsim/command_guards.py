"""Up-front estimates of ``archsim dram`` and ``archsim serve`` runs, refused above the limits
without ``--force`` (as :mod:`archsim.guard` does for ``archsim run``).

Both commands hold their whole request stream in memory and take time in proportion to it, so
the estimate is known before anything is generated or simulated:

* ``archsim dram``: requests x :data:`DRAM_BYTES_PER_REQUEST` of memory, requests /
  :data:`DRAM_REQUESTS_PER_S` of time; refused above :data:`MAX_DRAM_REQUESTS`;
* ``archsim serve``: the requests and the output tokens they generate (their count times the
  mean of the output-token distribution), each with a measured memory and time cost
  (:data:`SERVE_BYTES_PER_REQUEST`, :data:`SERVE_S_PER_OUTPUT_TOKEN`...); refused above
  :data:`MAX_SERVE_S` of estimated run time.

Memory is refused above half of the machine's physical memory
(:func:`archsim.guard.physical_memory_bytes`). The rates only say how long a refused run would
take; they were measured on a 2-core machine (see each constant;
``python benchmarks/command_guard_estimates.py`` measures them again).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import SimulationError
from .guard import _human, physical_memory_bytes

#: peak RSS of ``archsim dram hbm2 --pattern random --read-ratio 0.7 --requests N`` (GNU time):
#: 408,492 kB at N = 2e6 and 651,012 kB at N = 4e6, i.e. 121 B per request (addresses, decoded
#: fields, per-channel copies, issue and queue-entry cycles)
DRAM_BYTES_PER_REQUEST = 125
#: the same runs: 4.93 s and 8.87 s wall, i.e. about 5e5 random requests/s (sequential streams
#: run faster: ``--requests 3000000`` reports 1.8e6 requests/s)
DRAM_REQUESTS_PER_S = 5e5
#: about 17 minutes at DRAM_REQUESTS_PER_S (as :data:`archsim.guard.MAX_OPS` for ``run``)
MAX_DRAM_REQUESTS = 500_000_000
#: ``archsim serve hw_configs/gpu_a100_80gb.yaml workloads/llama2_7b.yaml --arrivals
#: poisson:20 --prompt-tokens uniform:64:512 --output-tokens T --requests N`` (GNU time, peak
#: RSS and wall): T = 16: 234,324 kB, 4.17 s at N = 2,000 and 369,728 kB, 11.11 s at N = 10,000;
#: T = 256: 312,832 kB, 6.53 s and 748,672 kB, 23.44 s. Solving the two slopes for a cost per
#: request and one per output token: 14.4 kB and 157 B; 0.78 ms and 5.2 us
SERVE_BYTES_PER_REQUEST = 15_000
SERVE_BYTES_PER_OUTPUT_TOKEN = 160
SERVE_S_PER_REQUEST = 0.8e-3
SERVE_S_PER_OUTPUT_TOKEN = 5.2e-6
#: about 17 minutes of estimated run time (as :data:`archsim.guard.MAX_OPS` for ``run``)
MAX_SERVE_S = 1000.0


@dataclass(frozen=True)
class WorkEstimate:
    """What a request-stream run will cost before it starts."""

    what: str
    units: int
    unit: str
    seconds: float
    memory_bytes: int

    def describe(self) -> str:
        return (f"{self.units:,} {self.unit} (about {self.seconds:,.0f} s), about "
                f"{_human(self.memory_bytes)} of memory")


def estimate_dram(requests: int) -> WorkEstimate:
    """Estimate of simulating ``requests`` DRAM requests."""
    return WorkEstimate("DRAM run", int(requests), "requests", requests / DRAM_REQUESTS_PER_S,
                        int(requests) * DRAM_BYTES_PER_REQUEST)


def mean_tokens(dist, default: int) -> float:
    """Mean token count of a :class:`~archsim.serving.TokenDist` (``None``: ``default``); a
    clipped lognormal is bounded by its ``high``."""
    import math
    if dist is None:
        return float(default)
    if dist.dist == "constant":
        return float(dist.value)
    if dist.dist == "uniform":
        return (dist.low + dist.high) / 2.0
    return min(float(dist.high), dist.median * math.exp(dist.sigma ** 2 / 2.0))


def estimate_serve(cfg, w, requests=None) -> WorkEstimate:
    """Estimate of serving ``cfg`` (a :class:`~archsim.serving.ServeConfig`) with workload
    ``w``: from the configuration for Poisson arrivals (before any request is generated), from
    the loaded ``requests`` of a trace."""
    if requests is not None:
        n, tokens = len(requests), int(requests.output_tokens.sum())
    else:
        n = cfg.requests
        tokens = int(n * mean_tokens(cfg.output_tokens, w.generate_tokens))
    return WorkEstimate("serving run", tokens, f"output tokens of {n:,} requests",
                        n * SERVE_S_PER_REQUEST + tokens * SERVE_S_PER_OUTPUT_TOKEN,
                        n * SERVE_BYTES_PER_REQUEST + tokens * SERVE_BYTES_PER_OUTPUT_TOKEN)


def check_work(est: WorkEstimate, *, hint: str, max_units: int | None = None,
               max_seconds: float | None = None, force: bool = False,
               max_memory_bytes: int | None = None) -> None:
    """Refuse ``est`` above ``max_units``, ``max_seconds`` or half the physical memory unless
    ``force``."""
    if force:
        return
    limit = physical_memory_bytes() // 2 if max_memory_bytes is None else max_memory_bytes
    problems = []
    if max_units is not None and est.units > max_units:
        problems.append(f"more than {max_units:,} {est.unit}")
    if max_seconds is not None and est.seconds > max_seconds:
        problems.append(f"more than about {max_seconds:,.0f} s")
    if limit and est.memory_bytes > limit:
        problems.append(f"more than {_human(limit)} of memory (half of this machine's)")
    if problems:
        raise SimulationError(f"this {est.what} is too large: {est.describe()}; that is "
                              f"{' and '.join(problems)}. {hint} or pass --force to run it "
                              "anyway")
