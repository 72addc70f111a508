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
from .strategy import IterationModel


def kv_capacity_blocks(hw, w, cfg, sim) -> tuple:
    """``(blocks, detail)``: KV blocks one replica holds: on every device, ``memory_utilization``
    of its capacity minus its weights, divided by the KV bytes per token it stores (the growth
    of :func:`archsim.capacity.memory_by_device` between probe traces of 64 and 128 tokens);
    the least over devices."""
    bt = cfg.block_tokens
    if cfg.kv_capacity_tokens is not None:
        return cfg.kv_capacity_tokens // bt, {"kv_capacity_tokens": cfg.kv_capacity_tokens}
    from ..transforms import apply_transforms
    from ..transforms.decoding import logical_trace

    # probe sequences: as many as the plan's micro-batches (each needs one)
    nb = hw.parallelism.micro_batches if hw.parallelism is not None else 1

    def need_at(C):             # memory by device with C tokens per sequence
        probe = dataclasses.replace(w, batch_size=nb, prompt_tokens=C - 1, generate_tokens=2)
        trace = apply_transforms(logical_trace(probe), hw.trace_transforms(), hw)
        return memory_by_device(trace, sim.mapper)

    C1, C2 = 64, 128
    at1, at2 = need_at(C1), need_at(C2)
    best, detail = None, {}
    for dev, need in at2.items():
        cap = sim.system.devices[dev].memory_capacity_bytes()
        if cap is None or not need["kv"]:
            continue
        # KV bytes per token: the slope between the two probes (every cache the strategy
        # keeps, a speculative draft's included)
        per_token = (need["kv"] - at1[dev]["kv"]) / (C2 - C1) / nb
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


def simulate(hw, w, cfg, *, force: bool = False, progress: bool = False):
    """Serve the requests of ``cfg`` with workload ``w``'s model on design point ``hw``;
    returns a :class:`~.metrics.ServeResult`. A run above the limits of
    :mod:`archsim.command_guards` is refused unless ``force``; ``progress`` reports the
    requests finished on stderr (:mod:`archsim.progress`)."""
    from ..command_guards import MAX_SERVE_S, check_work, estimate_serve
    from .metrics import ServeResult
    t0 = time.perf_counter()
    reqs = read_trace(cfg.trace_file) if cfg.arrivals == "trace" else None
    check_work(estimate_serve(cfg, w, reqs), max_seconds=MAX_SERVE_S, force=force,
               hint="Serve fewer requests (--requests, a shorter trace, --output-tokens)")
    if reqs is None:        # generated only once the estimate is accepted
        reqs = poisson_requests(cfg, w)
    too_long = int((reqs.prompt_tokens + reqs.output_tokens - 1).max())
    if too_long > w.model.max_positions:
        raise ConfigError(f"a request of {too_long} tokens exceeds the model's max_positions "
                          f"{w.model.max_positions}")
    model = IterationModel(hw, w)
    blocks, kv_detail = kv_capacity_blocks(hw, w, cfg, model.target.sim)
    check_requests(reqs, cfg, blocks, cfg.block_tokens, model.q)
    n = len(reqs)
    first = np.full(n, -1, dtype=np.int64)
    finish = np.full(n, -1, dtype=np.int64)
    log = []                              # (replica, start ps, end ps, seqs, tokens, blocks used)
    env = simpy.Environment()
    replicas = [Replica(reqs, cfg, blocks, model.q, model.mean) for _ in range(cfg.replicas)]
    wake = [env.event() for _ in replicas]
    inflight = [0] * len(replicas)
    arrivals = reqs.arrival_ps.tolist()
    bar = None
    if progress:
        from ..progress import progress_bar
        bar = progress_bar(n, "request", "serve")

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
            dec_ctx, chunk_seqs, completing = rep.composition(decodes, chunks)
            dt = model.time_ps(dec_ctx, chunk_seqs, completing)
            start = env.now
            yield env.timeout(dt)
            got_first, done = rep.commit(decodes, chunks)
            for i in got_first:
                first[i] = env.now
            for i in done:
                finish[i] = env.now
            inflight[r] -= len(done)
            if bar is not None and len(done):
                bar.update(len(done))
            log.append((r, start, env.now, len(dec_ctx) + len(chunk_seqs),
                        model.q * len(dec_ctx) + sum(c for c, _ in chunk_seqs),
                        rep.total_blocks - rep.free))

    env.process(source())
    for r in range(len(replicas)):
        env.process(serve(r))
    env.run()
    if bar is not None:
        bar.close()
    if (finish < 0).any():
        raise RuntimeError("serving simulation ended with unfinished requests")
    it = np.array(log, dtype=np.int64).reshape(-1, 6)
    span_ps = int(finish.max() - reqs.arrival_ps.min())
    return ServeResult(hw=hw, workload=w, config=cfg, requests=reqs, first_ps=first,
                       finish_ps=finish, iterations=it, kv_blocks=blocks,
                       priced=model.priced(span_ps, cfg.replicas),
                       kv_detail=kv_detail, preemptions=sum(r.preemptions for r in replicas),
                       step_model_calls=model.calls, wall_s=time.perf_counter() - t0)
