"""A hardware design point instantiated: device models and the link graph between them."""
from __future__ import annotations

import math

import networkx as nx

from ..devices.base import device_class
from ..errors import SimulationError
from ..hardware import HardwareConfig


class Link:
    """One direction of a link: moving ``n`` bytes takes ``latency + n / bandwidth``."""

    __slots__ = ("src", "dst", "name", "bandwidth_bytes_per_s", "latency_ps",
                 "energy_pj_per_byte")

    def __init__(self, src, dst, cfg):
        self.src, self.dst = src, dst
        self.name = f"{src}->{dst}"
        self.bandwidth_bytes_per_s = cfg.bandwidth_bytes_per_s  # None: latency only
        self.latency_ps = int(round(cfg.latency_s * 1e12))
        self.energy_pj_per_byte = cfg.energy_j_per_bit * 8e12

    def transfer_ps(self, nbytes: int) -> int:
        if self.bandwidth_bytes_per_s is None:
            return self.latency_ps
        return self.latency_ps + math.ceil(nbytes * 1e12 / self.bandwidth_bytes_per_s)


class System:
    """Devices and links of ``hw`` as a ``networkx`` directed graph.

    The constructor only builds Python objects from the frozen config; it runs nothing.
    """

    def __init__(self, hw: HardwareConfig) -> None:
        self.hw = hw
        self.devices = {name: device_class(cfg.kind)(name, cfg) for name, cfg in hw.devices.items()}
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(self.devices)
        for cfg in hw.links:
            pairs = [(cfg.src, cfg.dst)] + ([(cfg.dst, cfg.src)] if cfg.bidirectional else [])
            for a, b in pairs:
                bw = cfg.bandwidth_bytes_per_s
                self.graph.add_edge(a, b, link=Link(a, b, cfg),
                                    weight=1.0 / bw if bw else 1e-30)
        self._routes: dict = {}
        self._hosted = frozenset(n for n, d in self.devices.items() if d.host() is not None)
        self._place_cache: dict = {}

    def needs_move(self, src: str, dst: str) -> bool:
        """Whether a result produced on ``src`` must be moved before an op on ``dst`` uses it."""
        return src != dst or src in self._hosted

    def route(self, src: str, dst: str) -> list:
        """Links along the widest-bandwidth shortest path from ``src`` to ``dst``.

        From a device to itself the route goes through its :meth:`~Device.host` and back.
        """
        key = (src, dst)
        r = self._routes.get(key)
        if r is None and src == dst:
            host = self.devices[src].host()
            if host is None:
                return []
            if host not in self.devices:
                raise SimulationError(f"device {src!r} names host {host!r}, which is not a "
                                      "device of this design point")
            r = self._routes[key] = self.route(src, host) + self.route(host, src)
        if r is None:
            try:
                nodes = nx.shortest_path(self.graph, src, dst, weight="weight")
            except nx.NetworkXNoPath:
                raise SimulationError(f"ops on {src!r} feed ops on {dst!r} but no link connects "
                                      "them; add one under 'links'") from None
            r = [self.graph.edges[a, b]["link"] for a, b in zip(nodes, nodes[1:])]
            self._routes[key] = r
        return r

    def place(self, op) -> str:
        key = (op.name, op.kind)
        d = self._place_cache.get(key)
        if d is None:
            d = self._place_cache[key] = self.hw.place(op)
        return d

    @property
    def links(self) -> list:
        return [e["link"] for _, _, e in self.graph.edges(data=True)]
