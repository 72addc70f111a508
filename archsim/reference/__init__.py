"""PyTorch reference implementation of the decoder-only models archsim simulates.

It exists to produce measured traces: every op of the analytic trace
(:func:`archsim.trace.generate.step_ops`) runs inside
``torch.profiler.record_function("archsim::<op name>")`` and computes what the analytic trace
counts, so that kernels captured with ``torch.profiler`` map one to one onto trace ops.

PyTorch is an optional dependency; importing this package does not import it. Use
:func:`require_torch` (or any function here) to get a clear error when it is missing.
"""
from __future__ import annotations

from ..errors import ArchsimError

ANNOTATION_PREFIX = "archsim::"
#: annotation around each whole step (prefill or decode), followed by the step index
STEP_PREFIX = "archsim.step::"


def require_torch():
    """Import and return :mod:`torch`, or raise an :class:`ArchsimError` saying how to get it."""
    try:
        import torch
    except ImportError:
        raise ArchsimError("the reference implementation needs PyTorch: pip install torch "
                           "(or pip install 'archsim[torch]')") from None
    return torch


def __getattr__(name):  # lazy: keep `import archsim.reference` free of torch
    if name in ("ReferenceModel", "torch_dtype"):
        from . import model
        return getattr(model, name)
    if name in ("generate", "prompt_ids"):
        from . import decode
        return getattr(decode, name)
    raise AttributeError(name)


__all__ = ["ANNOTATION_PREFIX", "STEP_PREFIX", "require_torch", "ReferenceModel", "torch_dtype",
           "generate", "prompt_ids"]
