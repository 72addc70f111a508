"""Measured traces: run the reference implementation under ``torch.profiler`` and import
Kineto Chrome traces (captured here or by other code) as archsim traces with ``measured_ns``.

:mod:`archsim.capture.kineto` (the importer) needs no PyTorch; :mod:`archsim.capture.capture`
does, and imports it only when called.
"""
from ..dram import lazy_exports

#: imported on first use, so that the CLI's parser does not load the importer
__getattr__ = lazy_exports(__name__, {"import_kineto": "kineto", "measure": "kineto",
                                      "parse_aliases": "kineto", "read_kineto": "kineto"})

__all__ = ["import_kineto", "measure", "parse_aliases", "read_kineto", "capture"]


def capture(*args, **kw):
    """See :func:`archsim.capture.capture.capture`."""
    from .capture import capture as _capture
    return _capture(*args, **kw)
