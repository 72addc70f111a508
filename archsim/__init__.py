"""archsim: event-driven, cycle-accurate simulation of LLM autoregressive decoding.

Public API (mirrors the ``archsim`` CLI)::

    import archsim
    result = archsim.run("hw_configs/gpu_a100_80gb.yaml", "workloads/llama2_7b.yaml")
    result.tpot_s["mean"], result.energy_per_token_j, result.to_dict()
"""
__version__ = "0.1.0"

from .api import run
from .capture import capture, import_kineto
from .compare import compare
from .devices.base import Device, OpCost, device_kinds, register_device
from .engine import Simulator, System, chrome_trace, write_chrome_trace
from .errors import ArchsimError, ConfigError, SimulationError, TraceError
from .hardware import HardwareConfig, load_hardware
from .model import ModelSpec, list_models
from .results import RunResult
from .trace import (Op, OpKind, Phase, Step, Trace, generate_trace, load_trace, save_trace)
from .validation import calibrate, validate
from .workload import Workload, load_workload
from . import plots, sweep  # design-space sweeps (archsim.sweep) and their figures

__all__ = [
    "run", "compare", "capture", "import_kineto", "validate", "calibrate", "Simulator", "System", "RunResult", "chrome_trace", "write_chrome_trace",
    "HardwareConfig", "load_hardware", "Workload", "load_workload", "ModelSpec", "list_models",
    "Trace", "Step", "Op", "OpKind", "Phase", "generate_trace", "load_trace", "save_trace",
    "Device", "OpCost", "register_device", "device_kinds",
    "ArchsimError", "ConfigError", "TraceError", "SimulationError", "__version__",
    "sweep", "plots",
]
