"""archsim: event-driven, cycle-accurate simulation of LLM autoregressive decoding.

Public API (mirrors the ``archsim`` CLI)::

    import archsim
    result = archsim.run("hw_configs/gpu_a100_80gb.yaml", "workloads/llama2_7b.yaml")
    result.tpot_s["mean"], result.energy_per_token_j, result.to_dict()

The names below are imported on first use (PEP 562), so ``import archsim`` and the CLI's quick
commands (``--version``, ``list``, ``check``) do not load numba, networkx, SimPy or matplotlib.
"""
from .lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "run": ".api", "compare": ".compare", "capture": ".capture", "import_kineto": ".capture",
    "validate": ".validation", "calibrate": ".validation",
    "Simulator": ".engine", "System": ".engine", "chrome_trace": ".engine",
    "write_chrome_trace": ".engine", "RunResult": ".results",
    "HardwareConfig": ".hardware", "load_hardware": ".hardware",
    "Workload": ".workload", "load_workload": ".workload",
    "ModelSpec": ".model", "list_models": ".model",
    "Trace": ".trace", "Step": ".trace", "Op": ".trace", "OpKind": ".trace", "Phase": ".trace",
    "generate_trace": ".trace", "load_trace": ".trace", "save_trace": ".trace",
    "Device": ".devices.base", "OpCost": ".devices.base", "register_device": ".devices.base",
    "device_kinds": ".devices.base",
    "ArchsimError": ".errors", "ConfigError": ".errors", "TraceError": ".errors",
    "SimulationError": ".errors",
    "json_schema": ".config.jsonschema",
    "KernelModel": ".devices.gpu_kernels", "plan_gemm": ".devices.gpu_kernels",
    "CalibrationRefused": ".validation.calibrate",
    "serve": ".serving", "ServeConfig": ".serving", "ServeResult": ".serving.metrics",
}

#: subpackages also reachable as attributes: design-space sweeps and their figures
_SUBMODULES = ("sweep", "plots")

__all__ = list(_EXPORTS) + list(_SUBMODULES) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS, _SUBMODULES)
