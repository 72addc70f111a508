"""The mapping layer: which device (or devices) runs each op of a trace.

Placement rules are data in the design point (:mod:`.placement`); the :class:`Mapper` resolves
them, and the pins trace transforms put on ops, into a per-op assignment keyed by op identity.
"""
from .mapper import Mapper
from .placement import Placement, PlacementRule

__all__ = ["Mapper", "Placement", "PlacementRule"]
