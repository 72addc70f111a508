"""Capture a measured trace: warm up, time every step, then profile one more generation.

Two generations are measured after the warm-up, with the same weights and prompt (so the same
tokens): a *timed* run without the profiler gives each step's wall time (CUDA events on a GPU,
``perf_counter`` after a synchronize on the CPU) and, where NVML is available, the energy of the
run; a *profiled* run under ``torch.profiler`` (``record_shapes=True``) gives per-op times through
the Kineto importer (:mod:`archsim.capture.kineto`). Profiling inflates wall time, which is why
step times come from the unprofiled run.
"""
from __future__ import annotations

import gzip
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace

from ..errors import ArchsimError
from ..fsutil import write_atomic
from ..reference import require_torch
from ..reference.decode import StepTimer, generate, model_for, prompt_ids
from ..trace.io import save_trace
from ..trace.schema import Trace
from ..workload import load_workload
from .kineto import WORKLOAD_KEY, import_kineto


@dataclass
class CaptureResult:
    trace: Trace
    kineto_path: str
    trace_path: str
    wall_s: float


def _nvml(device_index: int):
    """An NVML handle for the CUDA device, or None when pynvml is missing or fails."""
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(device_index)
    except Exception:  # optional: any NVML failure just means no energy/clock data
        return None


def _energy_mj(nv):
    if nv is None:
        return None
    try:
        return nv[0].nvmlDeviceGetTotalEnergyConsumption(nv[1])
    except Exception:
        return None


def device_meta(torch, dev, nv) -> dict:
    """Device properties, software versions and clocks of the capture machine."""
    meta = {"device": {"type": dev.type}, "software": {
        "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform()}}
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        meta["device"].update({"name": p.name, "total_memory_bytes": p.total_memory,
                               "compute_capability": f"{p.major}.{p.minor}",
                               "multi_processor_count": p.multi_processor_count})
        meta["software"]["cuda"] = torch.version.cuda
        if nv is not None:
            pynvml, h = nv
            for key, fn in (("driver", lambda: pynvml.nvmlSystemGetDriverVersion()),):
                try:
                    v = fn()
                    meta["software"][key] = v.decode() if isinstance(v, bytes) else v
                except Exception:
                    pass
            clocks = {}
            for name, clk in (("sm", "NVML_CLOCK_SM"), ("memory", "NVML_CLOCK_MEM")):
                try:
                    c = getattr(pynvml, clk)
                    clocks[f"{name}_mhz"] = pynvml.nvmlDeviceGetClockInfo(h, c)
                    clocks[f"{name}_max_mhz"] = pynvml.nvmlDeviceGetMaxClockInfo(h, c)
                except Exception:
                    pass
            try:
                clocks["power_limit_w"] = pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1000.0
            except Exception:
                pass
            if clocks:
                meta["clocks"] = clocks
    else:
        meta["device"].update({"name": platform.processor() or platform.machine(),
                               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()})
    return meta


def capture(workload, device: str = "cpu", out_dir=None, *, warmup: int = 1, overrides=(),
            seed: int = 0, gzip_kineto: bool = True, progress: bool = False) -> CaptureResult:
    """Run ``workload`` on ``device``; write ``kineto.json[.gz]`` and ``trace.json.gz``.

    Both files are written only once everything has succeeded, each atomically. ``progress``
    reports the steps run (warm-up, timed and profiled generations) on stderr
    (:mod:`archsim.progress`).
    """
    torch = require_torch()
    t_start = time.perf_counter()
    w = load_workload(workload, overrides)
    dev = torch.device(device)
    if dev.type not in ("cuda", "cpu"):
        raise ArchsimError(f"--device {device!r}: expected cuda or cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ArchsimError("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() "
                           "is False); use --device cpu")
    if warmup < 0:
        raise ArchsimError("--warmup must be >= 0")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dev = torch.device("cuda", torch.cuda.current_device())
    nv = _nvml(dev.index) if dev.type == "cuda" else None
    model = model_for(w, str(dev), seed=seed)
    ids = prompt_ids(w, str(dev), seed=seed + 1)
    n = w.generate_tokens
    bar = None
    if progress:
        from ..progress import progress_bar
        bar = progress_bar((warmup + 2) * n, "step", "capture")
    for _ in range(warmup):
        generate(model, ids, n, progress=bar)
    # timed run (no profiler): step wall times and energy
    timer = StepTimer(dev)
    e0 = _energy_mj(nv)
    tokens = generate(model, ids, n, timer=timer, progress=bar)
    step_ns = timer.step_ns()
    e1 = _energy_mj(nv)
    # profiled run
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts, record_shapes=True) as prof:
        prof.add_metadata_json(WORKLOAD_KEY, json.dumps(w.to_dict()))
        tokens2 = generate(model, ids, n, progress=bar)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    if bar is not None:
        bar.close()
    with tempfile.TemporaryDirectory() as tmpd:
        raw_path = os.path.join(tmpd, "kineto.json")
        prof.export_chrome_trace(raw_path)
        with open(raw_path, "rb") as fh:
            raw = fh.read()
    doc = json.loads(raw)
    trace = import_kineto(doc, w)
    steps = tuple(replace(s, measured_ns=float(ns)) for s, ns in zip(trace.steps, step_ns))
    meta = dict(trace.meta)
    meta.update(device_meta(torch, dev, nv))
    meta["capture"] = {"warmup_generations": warmup, "seed": seed, "step_time":
                       "wall time per step of an unprofiled run (" + (
                           "CUDA events" if dev.type == "cuda" else
                           "perf_counter") + ")",
                       "tokens_match_profiled_run": bool(torch.equal(tokens, tokens2))}
    if e0 is not None and e1 is not None:
        tot = (e1 - e0) / 1000.0
        meta["energy"] = {"total_j": tot, "per_token_j": tot / (n * w.batch_size),
                          "wall_ns": float(sum(step_ns)),
                          "source": "NVML total energy counter over the timed run"}
    trace = Trace(steps, trace.workload, source="captured", meta=meta)
    if out_dir is None:
        return CaptureResult(trace, None, None, time.perf_counter() - t_start)
    out_dir = os.fspath(out_dir)
    kpath = os.path.join(out_dir, "kineto.json.gz" if gzip_kineto else "kineto.json")
    tpath = os.path.join(out_dir, "trace.json.gz")
    write_atomic(kpath, gzip.compress(raw, mtime=0) if gzip_kineto else raw)
    save_trace(trace, tpath)
    return CaptureResult(trace, kpath, tpath, time.perf_counter() - t_start)
