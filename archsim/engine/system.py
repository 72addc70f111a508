"""A hardware design point instantiated: device models, switches and the link graph.

Routing: a transfer of ``n`` bytes takes the route with the least store-and-forward time,
``sum over hops of (latency + ceil(n / bandwidth))``; a link with no bandwidth (its endpoint's
own simulation already moves the data) costs its latency alone, so routing sees its real
latency. Routes are cached per (source, destination, size). Switches are nodes that compute
nothing and only forward.
"""
from __future__ import annotations

import math

import networkx as nx

from ..devices.base import device_class
from ..errors import SimulationError
from ..hardware import HardwareConfig
from .collective import collective_cost


class Link:
    """One direction of a link: moving ``n`` bytes takes ``latency + n / (bandwidth x
    efficiency)``."""

    __slots__ = ("src", "dst", "name", "bandwidth_bytes_per_s", "latency_ps",
                 "energy_pj_per_byte")

    def __init__(self, src, dst, cfg):
        self.src, self.dst = src, dst
        self.name = f"{src}->{dst}"
        bw = cfg.bandwidth_bytes_per_s                 # None: latency only
        self.bandwidth_bytes_per_s = None if bw is None else bw * cfg.efficiency
        self.latency_ps = int(round(cfg.latency_s * 1e12))
        self.energy_pj_per_byte = cfg.energy_j_per_bit * 8e12

    def serialise_ps(self, nbytes: int) -> int:
        """Time ``nbytes`` occupy the link beyond its latency (0 for a latency-only link)."""
        if self.bandwidth_bytes_per_s is None:
            return 0
        return math.ceil(nbytes * 1e12 / self.bandwidth_bytes_per_s)

    def transfer_ps(self, nbytes: int) -> int:
        return self.latency_ps + self.serialise_ps(nbytes)


class System:
    """Devices, switches and links of ``hw`` as a ``networkx`` directed graph.

    The constructor only builds Python objects from the frozen config; it runs nothing.
    """

    def __init__(self, hw: HardwareConfig) -> None:
        self.hw = hw
        self.devices = {name: device_class(cfg.kind)(name, cfg) for name, cfg in hw.devices.items()}
        self.switches = tuple(hw.switches)
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(self.devices)
        self.graph.add_nodes_from(self.switches)
        for cfg in hw.links:
            pairs = [(cfg.src, cfg.dst)] + ([(cfg.dst, cfg.src)] if cfg.bidirectional else [])
            for a, b in pairs:
                self.graph.add_edge(a, b, link=Link(a, b, cfg))
        self.link_by_name = {e["link"].name: e["link"] for _, _, e in self.graph.edges(data=True)}
        self._routes: dict = {}
        self._collectives: dict = {}
        self._hosted = frozenset(n for n, d in self.devices.items() if d.host() is not None)

    def needs_move(self, src: str, dst: str) -> bool:
        """Whether a result produced on ``src`` must be moved before an op on ``dst`` uses it."""
        return src != dst or src in self._hosted

    def route(self, src: str, dst: str, nbytes: int = 0) -> list:
        """Links along the fastest route for ``nbytes`` from ``src`` to ``dst``.

        From a device to itself the route goes through its :meth:`~Device.host` and back.
        """
        key = (src, dst, nbytes)
        r = self._routes.get(key)
        if r is not None:
            return r
        if src == dst:
            host = self.devices[src].host()
            if host is None:
                return []
            if host not in self.devices:
                raise SimulationError(f"device {src!r} names host {host!r}, which is not a "
                                      "device of this design point")
            r = self.route(src, host, nbytes) + self.route(host, src, nbytes)
        else:
            try:
                nodes = nx.shortest_path(
                    self.graph, src, dst,
                    weight=lambda a, b, e: e["link"].transfer_ps(nbytes))
            except nx.NetworkXNoPath:
                raise SimulationError(f"ops on {src!r} feed ops on {dst!r} but no link connects "
                                      "them; add one under 'links'", key="links") from None
            r = [self.graph.edges[a, b]["link"] for a, b in zip(nodes, nodes[1:])]
        self._routes[key] = r
        return r

    def collective(self, op, members: tuple) -> tuple:
        """``(duration_ps, {link: bytes}, {link: busy_ps})`` of collective ``op`` over
        ``members`` (see :mod:`archsim.engine.collective`); memoized per signature."""
        key = (op.signature(), members)
        hit = self._collectives.get(key)
        if hit is None:
            hit = self._collectives[key] = collective_cost(self, op, members)
        return hit

    @property
    def links(self) -> list:
        return list(self.link_by_name.values())
