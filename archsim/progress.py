"""Progress of long runs (sweeps, ``compare``): done/total, rate and ETA on stderr.

On a terminal one line is redrawn in place (at most ten times a second); otherwise (a log
file, CI) a line is printed each time another ``every_percent`` of the work is done, and at the
end. Nothing is printed for ``enabled=False``.
"""
from __future__ import annotations

import sys
import time


def _duration(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Progress:
    """Report progress of ``total`` units of work named ``unit`` (``points``, ``runs``)."""

    def __init__(self, total: int, label: str, *, unit: str = "points", stream=None,
                 tty: bool | None = None, every_percent: float = 5.0, enabled: bool = True):
        self.total, self.label, self.unit = max(int(total), 0), label, unit
        self.stream = stream
        self.tty = tty
        self.step = max(every_percent, 0.1) / 100.0
        self.enabled = enabled
        self.done = 0
        self.failed = 0
        self._t0 = None
        self._next = 0.0
        self._last_draw = 0.0

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def line(self) -> str:
        """The current status as text: ``label 40/100 (40%) 95.2 points/min, ETA 38s``."""
        now = time.perf_counter()
        elapsed = now - (self._t0 if self._t0 is not None else now)
        rate = self.done / elapsed * 60 if elapsed > 0 and self.done else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = (self.total - self.done) / (rate / 60) if rate else None
        tail = f", ETA {_duration(eta)}" if eta is not None and self.done < self.total else \
            f", {_duration(elapsed)}" if self.done >= self.total else ""
        fails = f", {self.failed} failed" if self.failed else ""
        return (f"{self.label} {self.done}/{self.total} ({pct:.0f}%) {rate:.1f} "
                f"{self.unit}/min{tail}{fails}")

    def start(self) -> "Progress":
        self._t0 = time.perf_counter()
        if self.tty is None:
            out = self._out()
            self.tty = bool(getattr(out, "isatty", lambda: False)())
        return self

    def update(self, n: int = 1, *, failed: int = 0) -> None:
        if self._t0 is None:
            self.start()
        self.done += n
        self.failed += failed
        if not self.enabled:
            return
        frac = self.done / self.total if self.total else 1.0
        if self.tty:
            now = time.perf_counter()
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._last_draw = now
                print("\r" + self.line() + "\x1b[K", end="", file=self._out(), flush=True)
        elif frac + 1e-12 >= self._next or self.done >= self.total:
            while self._next <= frac + 1e-12:
                self._next += self.step
            print(self.line(), file=self._out(), flush=True)

    def close(self) -> None:
        if self.enabled and self.tty and self._t0 is not None:
            print(file=self._out(), flush=True)
