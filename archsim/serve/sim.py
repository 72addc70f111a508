"""The serving simulation: SimPy processes for the request source and each replica.

The source process waits for each request's arrival and hands it to the replica with the
fewest requests in flight (lowest index on ties); each replica process runs iterations of its
scheduler (:class:`~.scheduler.Replica`) back to back while it has work, each taking the time
the step model gives its batch composition (:class:`~.step_model.StepModel`), and sleeps when
idle until the source wakes it. Time is integer picoseconds; with a seed, runs are
deterministic.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import simpy

from ..capacity import memory_by_device
from ..errors import ConfigError
from .requests import poisson_requests, read_trace
from .scheduler import Replica, check_requests
from .step_model import StepModel


def kv_capacity_blocks(hw, w, cfg, sim) -> tuple:
    """``(blocks, detail)``: KV blocks one replica holds: on every device, ``memory_utilization``
    of its capacity minus its weights, divided by the KV bytes per token it stores (from a
    probe trace, :func:`archsim.capacity.memory_by_device`); the least over devices."""
    from ..api import prepare
    bt = cfg.block_tokens
    if cfg.kv_capacity_tokens is not None:
        return cfg.kv_capacity_tokens // bt, {"kv_capacity_tokens": cfg.kv_capacity_tokens}
    C = 64
    probe = dataclasses.replace(w, batch_size=1, prompt_tokens=C - 1, generate_tokens=2)
    from ..transforms import apply_transforms
    from ..transforms.decoding import logical_trace
    trace = apply_transforms(logical_trace(probe), hw.trace_transforms(), hw)
    best, detail = None, {}
    for dev, need in memory_by_device(trace, sim.mapper).items():
        cap = sim.system.devices[dev].memory_capacity_bytes()
        if cap is None or not need["kv"]:
            continue
        per_token = need["kv"] / C
        free = cfg.memory_utilization * cap - need["weights"]
        tokens = int(free // per_token) if free > 0 else 0
        detail[dev] = {"capacity_bytes": cap, "weights_bytes": need["weights"],
                       "kv_bytes_per_token": per_token, "kv_tokens": tokens}
        best = tokens if best is None else min(best, tokens)
    if best is None:
        raise ConfigError("no device of the design point declares a memory capacity for the "
                          "KV cache: give kv_capacity_tokens")
    if best < bt:
        raise ConfigError(f"after the weights, {cfg.memory_utilization:g} of the memory holds "
                          f"no KV block of {bt} tokens", key="memory_utilization")
    return best // bt, detail


def simulate(hw, w, cfg):
    """Serve the requests of ``cfg`` with workload ``w``'s model on design point ``hw``;
    returns a :class:`~.metrics.ServeResult`."""
    from .metrics import ServeResult
    t0 = time.perf_counter()
    if not w.decoding.is_greedy:
        raise ConfigError("serving models greedy decoding: the workload's decoding strategy "
                          f"{w.decoding.strategy!r} is not supported by 'archsim serve' yet",
                          key="decoding")
    reqs = read_trace(cfg.trace_file) if cfg.arrivals == "trace" else poisson_requests(cfg, w)
    too_long = int((reqs.prompt_tokens + reqs.output_tokens - 1).max())
    if too_long > w.model.max_positions:
        raise ConfigError(f"a request of {too_long} tokens exceeds the model's max_positions "
                          f"{w.model.max_positions}")
    model = StepModel(hw, w)
    blocks, kv_detail = kv_capacity_blocks(hw, w, cfg, model.sim)
    check_requests(reqs, cfg, blocks, cfg.block_tokens)
    n = len(reqs)
    first = np.full(n, -1, dtype=np.int64)
    finish = np.full(n, -1, dtype=np.int64)
    log = []                              # (replica, start ps, end ps, seqs, tokens, blocks used)
    env = simpy.Environment()
    replicas = [Replica(reqs, cfg, blocks) for _ in range(cfg.replicas)]
    wake = [env.event() for _ in replicas]
    inflight = [0] * len(replicas)
    arrivals = reqs.arrival_ps.tolist()

    def source():
        for i, t in enumerate(arrivals):
            if t > env.now:
                yield env.timeout(t - env.now)
            r = min(range(len(replicas)), key=lambda k: (inflight[k], k))
            inflight[r] += 1
            replicas[r].add(i)
            if not wake[r].triggered:
                wake[r].succeed()

    def serve(r):
        rep = replicas[r]
        while True:
            if rep.idle:
                wake[r] = env.event()
                yield wake[r]
                continue
            decodes, chunks = rep.plan()
            while not decodes and not chunks:       # prefills starved of blocks
                rep._preempt(rep.running[-1])
                decodes, chunks = rep.plan()
            seqs, sampling = rep.composition(decodes, chunks)
            dt = model.time_ps(seqs, sampling)
            start = env.now
            yield env.timeout(dt)
            got_first, done = rep.commit(decodes, chunks)
            for i in got_first:
                first[i] = env.now
            for i in done:
                finish[i] = env.now
            inflight[r] -= len(done)
            log.append((r, start, env.now, len(seqs), sum(q for q, _ in seqs),
                        rep.total_blocks - rep.free))

    env.process(source())
    for r in range(len(replicas)):
        env.process(serve(r))
    env.run()
    if (finish < 0).any():
        raise RuntimeError("serving simulation ended with unfinished requests")
    it = np.array(log, dtype=np.int64).reshape(-1, 6)
    return ServeResult(hw=hw, workload=w, config=cfg, requests=reqs, first_ps=first,
                       finish_ps=finish, iterations=it, kv_blocks=blocks,
                       kv_detail=kv_detail, preemptions=sum(r.preemptions for r in replicas),
                       step_model_calls=model.calls, wall_s=time.perf_counter() - t0)
