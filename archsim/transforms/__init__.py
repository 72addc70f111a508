"""Trace transforms (``Trace -> Trace``) between trace generation and the mapping stage."""
from .base import (Transform, TransformEntry, apply_transforms, check_transforms,
                   register_transform, transform_kinds)
from .data_parallel import DataParallel
from .parallel import Parallelism

__all__ = ["Transform", "TransformEntry", "apply_transforms", "check_transforms",
           "register_transform", "transform_kinds", "DataParallel", "Parallelism"]
