"""Export a simulated timeline as Chrome-trace JSON (opens in Perfetto and chrome://tracing).

One process per device and one per link, plus a ``steps`` track; every op is a complete
(``"ph": "X"``) event with microsecond ``ts``/``dur`` as the Trace Event Format requires, and its
kind, layer, FLOPs, bytes and action counts in ``args``.

A whole long run is too large for Perfetto (GPT-2 XL over 1,024 tokens: about 260 MB of JSON),
so a timeline can be limited to some steps (:class:`Selection`, recorded only for those steps:
``--timeline-steps 0-3,100``) and some layers (``--timeline-layers 0-1``; ops outside the
transformer layers, such as the embedding and the LM head, are kept), and is written
gzip-compressed when its name ends in ``.gz`` (Perfetto opens ``.json.gz`` directly).
"""
from __future__ import annotations

import gzip
import json
import re

from ..errors import ArchsimError
from ..fsutil import write_atomic

PS_PER_US = 1e6


class Selection:
    """A set of non-negative indices written as ``"0-3,10,100-"`` (ranges inclusive, an open
    end runs to the last index)."""

    _PART = re.compile(r"^\s*(\d+)\s*(?:(-)\s*(\d*)\s*)?$")

    def __init__(self, ranges: tuple, text: str = "") -> None:
        self.ranges, self.text = ranges, text

    @classmethod
    def parse(cls, text: str, option: str = "selection") -> "Selection":
        """Parse ``text``; a malformed one is an :class:`~archsim.errors.ArchsimError` naming
        ``option``."""
        ranges = []
        for part in str(text).split(","):
            m = cls._PART.match(part)
            if not m:
                raise ArchsimError(f"cannot read {part.strip()!r} in {text!r}: expected indices "
                                   "and ranges such as 0-3,10,100-", key=option)
            lo = int(m.group(1))
            hi = lo if not m.group(2) else (int(m.group(3)) if m.group(3) else None)
            if hi is not None and hi < lo:
                raise ArchsimError(f"range {part.strip()!r} ends before it starts", key=option)
            ranges.append((lo, hi))
        return cls(tuple(ranges), str(text))

    def __contains__(self, i) -> bool:
        return any(lo <= i and (hi is None or i <= hi) for lo, hi in self.ranges)

    def __repr__(self) -> str:
        return f"Selection({self.text!r})"


def chrome_trace(result, layers=None) -> dict:
    """Build the Trace Event Format document of ``result`` (needs ``record_timeline``).

    ``layers`` (a container of layer indices, e.g. a :class:`Selection`) keeps only the ops of
    those layers and the ops outside any layer (``layer == -1``)."""
    if result.timeline is None:
        raise ValueError("the run did not record a timeline (Simulator(record_timeline=True))")
    devices = list(result.system.devices)
    links = sorted({ln.name for ln in result.system.links})
    pid = {name: i + 1 for i, name in enumerate(devices)}
    for j, name in enumerate(links):
        pid["link " + name] = len(devices) + j + 1
    steps_pid = len(pid) + 1
    events = [{"ph": "M", "name": "process_name", "pid": p, "tid": 0, "args": {"name": n}}
              for n, p in pid.items()]
    events.append({"ph": "M", "name": "process_name", "pid": steps_pid, "tid": 0,
                   "args": {"name": "steps"}})
    for si, step, t0, recs, transfers in result.timeline:
        end = max((r.end_ps for r in recs), default=0)
        events.append({"ph": "X", "name": f"{step.phase.value} {step.index}", "cat": "step",
                       "pid": steps_pid, "tid": 0, "ts": t0 / PS_PER_US, "dur": end / PS_PER_US,
                       "args": {"context_len": step.context_len, "batch": step.batch}})
        for r in recs:
            op = r.op
            if layers is not None and op.layer >= 0 and op.layer not in layers:
                continue
            # a collective appears on every member's track
            for dev in (r.device if type(r.device) is tuple else (r.device,)):
                events.append({"ph": "X", "name": op.name, "cat": op.kind.value, "pid": pid[dev],
                               "tid": 0, "ts": (t0 + r.start_ps) / PS_PER_US,
                               "dur": (r.end_ps - r.start_ps) / PS_PER_US,
                               "args": {"step": si, "layer": op.layer, "flops": op.flops,
                                        "bytes_read": op.bytes_read,
                                        "bytes_written": op.bytes_written,
                                        "actions": dict(r.cost.actions),
                                        **({"host_wait_us": r.host_wait_ps / PS_PER_US}
                                           if r.host_wait_ps else {})}})
        for tr in transfers:
            events.append({"ph": "X", "name": tr.op_name, "cat": "transfer",
                           "pid": pid["link " + tr.link.name], "tid": 0,
                           "ts": (t0 + tr.start_ps) / PS_PER_US,
                           "dur": (tr.end_ps - tr.start_ps) / PS_PER_US,
                           "args": {"bytes": tr.nbytes}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "archsim", "hardware": result.hw.name}}


def write_chrome_trace(result, path, layers=None) -> None:
    """Write :func:`chrome_trace` to ``path`` atomically, gzip-compressed if it ends in
    ``.gz`` (deterministic bytes: no timestamp in the gzip header)."""
    data = json.dumps(chrome_trace(result, layers), separators=(",", ":")).encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_atomic(path, data)
