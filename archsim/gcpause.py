"""Pause Python's cyclic garbage collector while building large object graphs.

Traces hold millions of small objects (ops with their shape and attribute dicts) and contain no
reference cycles; while they are being built, every generation-2 collection walks all of them,
which made building a 2,048-step multi-device trace several times slower. Collection resumes
afterwards, whatever happens inside.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused():
    """Disable cyclic collection inside the block (nested use is fine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
