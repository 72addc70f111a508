"""Measured traces: run the reference implementation under ``torch.profiler`` and import
Kineto Chrome traces (captured here or by other code) as archsim traces with ``measured_ns``.

:mod:`archsim.capture.kineto` (the importer) needs no PyTorch; :mod:`archsim.capture.capture`
does, and imports it only when called.
"""
from .kineto import import_kineto, measure, parse_aliases, read_kineto

__all__ = ["import_kineto", "measure", "parse_aliases", "read_kineto", "capture"]


def capture(*args, **kw):
    """See :func:`archsim.capture.capture.capture`."""
    from .capture import capture as _capture
    return _capture(*args, **kw)
