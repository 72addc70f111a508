"""Progress of long commands on stderr, in a terminal or not.

Two reporters, for two kinds of work:

- :func:`progress_bar` for one long simulation (``run``, ``trace``: steps): in a terminal, a
  :mod:`tqdm` bar that appears after two seconds; otherwise (a log file, a CI job, a pipe)
  plain lines, the first after :data:`FIRST_LINE_S` seconds and then at most one every
  :data:`EVERY_S` seconds, so a long run is never silent and a short one prints nothing::

    archsim: run: 1200/100000 steps (1.2%), 12 s elapsed, about 990 s left

- :class:`Progress` for many runs (sweep points, ``compare`` runs): done/total, rate and ETA;
  on a terminal one line redrawn in place (at most ten times a second), otherwise a line each
  time another ``every_percent`` of the work is done, and at the end.
"""
from __future__ import annotations

import sys
import time

FIRST_LINE_S = 2.0
EVERY_S = 10.0


class LineProgress:
    """A minimal progress reporter with tqdm's ``update``/``reset``/``close`` methods."""

    def __init__(self, total: int, unit: str, what: str, stream=None, *,
                 first_s: float | None = None, every_s: float | None = None,
                 clock=time.monotonic):
        self.total, self.unit, self.what = total, unit, what
        self.stream = stream if stream is not None else sys.stderr
        # read when built (not when defined), so that the module's constants are the settings
        self.first_s = FIRST_LINE_S if first_s is None else first_s
        self.every_s = EVERY_S if every_s is None else every_s
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.t0 = self.clock()
        self.next_s = self.first_s
        self.first = None           # (elapsed, n) at the first update

    def update(self, k: int = 1) -> None:
        self.n += k
        elapsed = self.clock() - self.t0
        if self.first is None:
            self.first = (elapsed, self.n)
        if elapsed >= self.next_s:
            self.next_s = elapsed + self.every_s
            self._line(elapsed)

    def _line(self, elapsed: float) -> None:
        # the time left from the rate since the first unit of work: the first one (a prefill
        # step, compiling kernels) is no guide to the others
        left = ""
        t1, n1 = self.first
        if self.total and self.n > n1 and elapsed > t1:
            rate = (self.n - n1) / (elapsed - t1)
            left = f", about {(self.total - self.n) / rate:.0f} s left"
        pct = f" ({100.0 * self.n / self.total:.1f}%)" if self.total else ""
        print(f"archsim: {self.what}: {self.n}/{self.total} {self.unit}s{pct}, "
              f"{elapsed:.0f} s elapsed{left}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, unit: str, what: str, stream=None):
    """A progress reporter on ``stream`` (stderr): a tqdm bar in a terminal, lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from tqdm import tqdm
        return tqdm(total=total, unit=unit, delay=FIRST_LINE_S, leave=False, file=stream)
    return LineProgress(total, unit, what, stream)


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
