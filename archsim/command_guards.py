"""Up-front estimates of ``archsim dram`` and ``archsim serve`` runs, refused above the limits
without ``--force`` (as :mod:`archsim.guard` does for ``archsim run``).

Both commands hold their whole request stream in memory and take time in proportion to it, so
the estimate is known before anything is generated or simulated:

* ``archsim dram``: requests x :data:`DRAM_BYTES_PER_REQUEST` of memory, requests /
  :data:`DRAM_REQUESTS_PER_S` of time; refused above :data:`MAX_DRAM_REQUESTS`;
* ``archsim serve``: requests x :data:`SERVE_BYTES_PER_REQUEST`, and the output tokens the
  requests generate (their count times the mean of the output-token distribution) /
  :data:`SERVE_TOKENS_PER_S`; refused above :data:`MAX_SERVE_TOKENS`.

Memory is refused above half of the machine's physical memory
(:func:`archsim.guard.physical_memory_bytes`). The rates only say how long a refused run would
take; they were measured on a 2-core machine (see each constant).
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
#: poisson:20 --prompt-tokens uniform:64:512 --output-tokens uniform:16:256 --requests N``:
#: peak RSS 265,808 kB at N = 2,000 and 804,312 kB at N = 20,000 (30 kB per request; the
#: scheduler's per-request state and the results' per-request arrays)
SERVE_BYTES_PER_REQUEST = 30_000
#: the N = 20,000 run above: 2,725,488 output tokens in 25.6 s wall (1.1e5 tokens/s)
SERVE_TOKENS_PER_S = 1e5
#: about 17 minutes at SERVE_TOKENS_PER_S
MAX_SERVE_TOKENS = 100_000_000


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
    return WorkEstimate("serving run", tokens, "output tokens", tokens / SERVE_TOKENS_PER_S,
                        n * SERVE_BYTES_PER_REQUEST)


def check_work(est: WorkEstimate, *, max_units: int, hint: str, force: bool = False,
               max_memory_bytes: int | None = None) -> None:
    """Refuse ``est`` above ``max_units`` or half the physical memory unless ``force``."""
    if force:
        return
    limit = physical_memory_bytes() // 2 if max_memory_bytes is None else max_memory_bytes
    problems = []
    if est.units > max_units:
        problems.append(f"more than {max_units:,} {est.unit}")
    if limit and est.memory_bytes > limit:
        problems.append(f"more than {_human(limit)} of memory (half of this machine's)")
    if problems:
        raise SimulationError(f"this {est.what} is too large: {est.describe()}; that is "
                              f"{' and '.join(problems)}. {hint} or pass --force to run it "
                              "anyway")
