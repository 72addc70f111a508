"""What a serving run is, as data: request arrivals, the scheduler's limits, the SLO.

Built from the ``archsim serve`` options (or a mapping) and validated like every config, before
anything runs. Defaults follow vLLM where it has one (``block_size`` 16 tokens,
``gpu_memory_utilization`` 0.9, ``max_num_seqs`` 256: vLLM ``EngineArgs`` defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from ..config.schema import param, quantity


@dataclass(frozen=True)
class TokenDist:
    """Token counts of generated requests: ``constant`` (``value``), ``uniform`` integers in
    ``[low, high]``, or ``lognormal`` with ``median`` and ``sigma`` (of the log), rounded and
    clipped to ``[low, high]``."""

    dist: Literal["constant", "uniform", "lognormal"] = param(default="constant")
    value: Optional[int] = param(default=None, min=1)
    low: int = param(default=1, min=1)
    high: Optional[int] = param(default=None, min=1)
    median: Optional[float] = param(default=None, min=1.0)
    sigma: Optional[float] = param(default=None, min=0.0)

    def validate(self):
        need = {"constant": ("value",), "uniform": ("high",), "lognormal": ("median", "sigma",
                                                                            "high")}[self.dist]
        for k in need:
            if getattr(self, k) is None:
                return ((k,), f"a {self.dist} distribution needs {k!r}")
        if self.high is not None and self.high < self.low:
            return (("high",), f"high {self.high} is below low {self.low}")
        return None

    def sample(self, rng, n: int):
        import numpy as np
        if self.dist == "constant":
            return np.full(n, self.value, dtype=np.int64)
        if self.dist == "uniform":
            return rng.integers(self.low, self.high + 1, size=n, dtype=np.int64)
        x = np.rint(rng.lognormal(np.log(self.median), self.sigma, size=n)).astype(np.int64)
        return np.clip(x, self.low, self.high)


@dataclass(frozen=True)
class ServeConfig:
    """A serving run (see ``docs/serving.md``)."""

    arrivals: Literal["poisson", "trace"] = param(default="poisson")
    rate_per_s: Optional[float] = param(default=None, min=0.0, min_exclusive=True,
                                        doc="Poisson arrival rate, requests per second")
    requests: Optional[int] = param(default=None, min=1, doc="requests to generate (Poisson)")
    trace_file: Optional[str] = param(default=None, doc="CSV of requests (trace arrivals)")
    prompt_tokens: Optional[TokenDist] = param(default=None)
    output_tokens: Optional[TokenDist] = param(default=None)
    seed: int = param(default=0, min=0)
    max_batch: int = param(default=256, min=1, doc="sequences per iteration (vLLM "
                           "max_num_seqs default 256)")
    max_tokens_per_step: int = param(default=8192, min=1, doc="tokens per iteration, "
                                     "prefill chunks and decodes together")
    chunked_prefill: bool = param(default=False, doc="split prompts across iterations to "
                                  "fill the token budget (Sarathi-Serve)")
    block_tokens: int = param(default=16, min=1, doc="KV block size in tokens (vLLM: 16)")
    memory_utilization: float = param(default=0.9, min=0.0, max=1.0, min_exclusive=True,
                                      doc="fraction of device memory for weights and KV "
                                      "(vLLM gpu_memory_utilization: 0.9)")
    kv_capacity_tokens: Optional[int] = param(default=None, min=1, doc="override the KV "
                                              "capacity derived from memory")
    replicas: int = param(default=1, min=1, doc="copies of the design point; requests go "
                          "to the replica with the fewest requests in flight")
    slo_ttft_s: Optional[float] = quantity("time", default=None, min=0, min_exclusive=True)
    slo_tpot_s: Optional[float] = quantity("time", default=None, min=0, min_exclusive=True)

    def validate(self):
        if self.arrivals == "poisson":
            for k in ("rate_per_s", "requests"):
                if getattr(self, k) is None:
                    return ((k,), f"Poisson arrivals need {k!r}")
            if self.trace_file is not None:
                return (("trace_file",), "a trace file with Poisson arrivals: choose one")
        elif self.trace_file is None:
            return (("trace_file",), "trace arrivals need a 'trace_file'")
        return None
