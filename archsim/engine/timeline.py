"""Export a simulated timeline as Chrome-trace JSON (opens in Perfetto and chrome://tracing).

One process per device and one per link, plus a ``steps`` track; every op is a complete
(``"ph": "X"``) event with microsecond ``ts``/``dur`` as the Trace Event Format requires, and its
kind, layer, FLOPs, bytes and action counts in ``args``.
"""
from __future__ import annotations

import json

from ..fsutil import write_atomic

PS_PER_US = 1e6


def chrome_trace(result) -> dict:
    """Build the Trace Event Format document of ``result`` (needs ``record_timeline=True``)."""
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
            # a collective appears on every member's track
            for dev in (r.device if type(r.device) is tuple else (r.device,)):
                events.append({"ph": "X", "name": op.name, "cat": op.kind.value, "pid": pid[dev],
                               "tid": 0, "ts": (t0 + r.start_ps) / PS_PER_US,
                               "dur": (r.end_ps - r.start_ps) / PS_PER_US,
                               "args": {"step": si, "layer": op.layer, "flops": op.flops,
                                        "bytes_read": op.bytes_read,
                                        "bytes_written": op.bytes_written,
                                        "actions": dict(r.cost.actions)}})
        for tr in transfers:
            events.append({"ph": "X", "name": tr.op_name, "cat": "transfer",
                           "pid": pid["link " + tr.link.name], "tid": 0,
                           "ts": (t0 + tr.start_ps) / PS_PER_US,
                           "dur": (tr.end_ps - tr.start_ps) / PS_PER_US,
                           "args": {"bytes": tr.nbytes}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "archsim", "hardware": result.hw.name}}


def write_chrome_trace(result, path) -> None:
    write_atomic(path, json.dumps(chrome_trace(result), separators=(",", ":")))
