"""Batched greedy decoding with a KV cache, step by step, optionally timed."""
from __future__ import annotations

import time

from ..errors import ConfigError
from ..workload import Workload
from . import STEP_PREFIX, require_torch
from .model import ReferenceModel


def model_for(w: Workload, device: str = "cpu", seed: int = 0) -> ReferenceModel:
    """The reference model of workload ``w`` in its activation dtype.

    The reference computes weights, activations and KV cache in one dtype; a workload whose
    precisions differ (e.g. int8 weights) cannot be captured faithfully and is refused.
    """
    p = w.precision
    for key in ("weights", "kv_cache"):
        if getattr(p, key) != p.activations:
            raise ConfigError(f"the reference implementation uses one dtype for weights, "
                              f"activations and KV cache; got {key}={getattr(p, key)} and "
                              f"activations={p.activations}", key=f"precision.{key}")
    return ReferenceModel(w.model, dtype=p.activations, device=device, seed=seed,
                          max_len=w.prompt_tokens + w.generate_tokens)


def prompt_ids(w: Workload, device: str = "cpu", seed: int = 1):
    """Random prompt token ids ``[batch_size, prompt_tokens]`` drawn with a fixed seed."""
    torch = require_torch()
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, w.model.vocab_size, (w.batch_size, w.prompt_tokens), generator=g)
    return ids.to(device)


class StepTimer:
    """Wall time per step: CUDA events on a GPU, ``perf_counter`` after a synchronize on CPU."""

    def __init__(self, device) -> None:
        self.torch = require_torch()
        self.cuda = self.torch.device(device).type == "cuda"
        self.marks = []

    def start(self):
        if self.cuda:
            ev = self.torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append([ev, None])
        else:
            self.marks.append([time.perf_counter(), None])

    def stop(self):
        if self.cuda:
            ev = self.torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks[-1][1] = ev
        else:
            self.marks[-1][1] = time.perf_counter()

    def step_ns(self) -> list:
        """Durations in nanoseconds (synchronizes once on CUDA)."""
        if self.cuda:
            self.torch.cuda.synchronize()
            return [a.elapsed_time(b) * 1e6 for a, b in self.marks]
        return [(b - a) * 1e9 for a, b in self.marks]


def generate(model: ReferenceModel, ids, new_tokens: int, *, timer: StepTimer | None = None,
             progress=None):
    """Greedy decoding: the prefill step, then ``new_tokens - 1`` decode steps.

    Each step runs inside ``record_function("archsim.step::<index>")``. Returns the generated
    token ids ``[batch, new_tokens]``. ``progress`` (an object with ``update(n)``) is told of
    each step after its timing and profiler region have ended.
    """
    torch = model.torch
    if new_tokens < 1:
        raise ConfigError("generate at least one token", key="generate_tokens")
    B, P = ids.shape
    cache = model.new_cache(B, P + new_tokens)
    out = []
    x, pos = ids, 0
    cpu = model.device.type == "cpu"
    with torch.inference_mode():
        for s in range(new_tokens):
            if timer is not None:
                if not cpu:
                    torch.cuda.synchronize(model.device)
                timer.start()
            with torch.profiler.record_function(f"{STEP_PREFIX}{s}"):
                nxt, _ = model.forward(x, cache, pos)
            if timer is not None:
                timer.stop()
            pos += x.shape[1]
            x = nxt[:, None]
            out.append(nxt)
            if progress is not None:
                progress.update(1)
    return torch.stack(out, dim=1)


def generate_no_cache(model: ReferenceModel, ids, new_tokens: int):
    """Greedy decoding that recomputes the whole sequence each step (a check of the cache)."""
    torch = model.torch
    seq = ids
    out = []
    with torch.inference_mode():
        for _ in range(new_tokens):
            nxt, _ = model.forward(seq, model.new_cache(seq.shape[0], seq.shape[1]), 0)
            out.append(nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
    return torch.stack(out, dim=1)
