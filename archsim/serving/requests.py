"""Requests of a serving run: generated (Poisson arrivals, token-count distributions) or read
from a CSV trace.

Trace formats, told apart by their header (columns beyond these are ignored):

* archsim: ``arrival_s, prompt_tokens, output_tokens`` (comma-separated);
* Vidur's trace replay: ``arrived_at`` (s), ``num_prefill_tokens``, ``num_decode_tokens``;
* LLMServingSim: ``input_toks, output_toks, arrival_time_ns`` (tab- or comma-separated,
  or JSON lines with those keys, as its ``requests.jsonl``).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

FORMATS = {
    "archsim": (("arrival_s", 1.0), "prompt_tokens", "output_tokens"),
    "vidur": (("arrived_at", 1.0), "num_prefill_tokens", "num_decode_tokens"),
    "llmservingsim": (("arrival_time_ns", 1e-9), "input_toks", "output_toks"),
}


@dataclass(frozen=True)
class Requests:
    """Arrival times (integer ps, non-decreasing), prompt and output tokens per request."""

    arrival_ps: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_ps)


def poisson_requests(cfg, w) -> Requests:
    """``cfg.requests`` requests arriving as a Poisson process of rate ``cfg.rate_per_s``
    (exponential gaps), token counts from ``cfg``'s distributions (default: the workload's
    ``prompt_tokens`` and ``generate_tokens``), all from ``numpy.random.default_rng(seed)``."""
    from .config import TokenDist
    rng = np.random.default_rng(cfg.seed)
    n = cfg.requests
    gaps = rng.exponential(1.0 / cfg.rate_per_s, size=n)
    arrival = np.rint(np.cumsum(gaps) * 1e12).astype(np.int64)
    p = (cfg.prompt_tokens or TokenDist(value=w.prompt_tokens)).sample(rng, n)
    o = (cfg.output_tokens or TokenDist(value=w.generate_tokens)).sample(rng, n)
    return Requests(arrival, p, o)


def read_trace(path) -> Requests:
    """Requests of a CSV trace (see module docstring); errors name the file and line."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read the request trace: {e.strerror}", file=path) from None
    lines = text.splitlines()
    if not lines:
        raise ConfigError("the request trace is empty", file=path, line=1)
    if lines[0].lstrip().startswith("{"):
        header, rows = _jsonl(lines, path)
    else:
        delim = "\t" if "\t" in lines[0] else ","
        rows = list(csv.reader(lines, delimiter=delim))
        header = [h.strip() for h in rows[0]]
    fmt = next((k for k, (a, p, o) in FORMATS.items() if a[0] in header), None)
    if fmt is None:
        raise ConfigError("unknown request-trace columns: expected " + "; or ".join(
            f"{a[0]}, {p}, {o} ({k})" for k, (a, p, o) in FORMATS.items()), file=path, line=1)
    (acol, scale), pcol, ocol = FORMATS[fmt]
    for c in (pcol, ocol):
        if c not in header:
            raise ConfigError(f"missing column {c!r} (a {fmt} trace has {acol}, {pcol}, "
                              f"{ocol})", file=path, line=1)
    idx = [header.index(c) for c in (acol, pcol, ocol)]
    arr, pr, out = [], [], []
    last = -1.0
    first = 1 if rows[0] is None else 2
    for ln, row in enumerate(rows[1:], start=first):
        if not row or not any(x.strip() for x in row):
            continue
        try:
            a, p, o = (row[i].strip() for i in idx)
        except IndexError:
            raise ConfigError(f"expected {len(header)} columns, got {len(row)}", file=path,
                              line=ln) from None
        try:
            t = float(a) * scale
        except ValueError:
            raise ConfigError(f"{acol}: expected a number, got {a!r}", file=path,
                              line=ln) from None
        if not t >= 0:
            raise ConfigError(f"{acol}: arrival time {a} is negative", file=path, line=ln)
        if t < last:
            raise ConfigError(f"{acol}: arrival times must not decrease ({a} after a later "
                              "one)", file=path, line=ln)
        last = t
        for name, v, dst in ((pcol, p, pr), (ocol, o, out)):
            try:
                k = int(v)
            except ValueError:
                k = -1
            if k < 1:
                raise ConfigError(f"{name}: expected a positive whole number of tokens, got "
                                  f"{v!r}", file=path, line=ln)
            dst.append(k)
        arr.append(t)
    if not arr:
        raise ConfigError("the request trace has no requests", file=path, line=1)
    return Requests(np.rint(np.array(arr) * 1e12).astype(np.int64), np.array(pr, np.int64),
                    np.array(out, np.int64))


def _jsonl(lines, path) -> tuple:
    """``(header, rows)`` of JSON lines: the keys of the first line, then one row of strings
    per line (line 1 is the first request, so rows start with a placeholder header row)."""
    import json
    rows = [None]
    header = None
    for ln, text in enumerate(lines, start=1):
        if not text.strip():
            rows.append([])
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            raise ConfigError("expected one JSON object per line", file=path, line=ln) from None
        if not isinstance(obj, dict):
            raise ConfigError("expected one JSON object per line", file=path, line=ln)
        if header is None:
            header = list(obj)
        rows.append([str(obj.get(k, "")) for k in header])
    return header, rows
