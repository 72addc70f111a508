"""AR decoding traces: schema, analytic generation, JSON I/O."""
from .schema import Op, OpKind, Phase, Step, Trace, SCHEMA_VERSION
from .generate import generate_trace
from .io import load_trace, save_trace, trace_from_dict, trace_to_dict

__all__ = ["Op", "OpKind", "Phase", "Step", "Trace", "SCHEMA_VERSION", "generate_trace",
           "load_trace", "save_trace", "trace_from_dict", "trace_to_dict"]
