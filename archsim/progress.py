"""Progress of long commands on stderr, in a terminal or not.

In a terminal, a :mod:`tqdm` bar that appears after two seconds. Otherwise (a log file, a CI job,
a pipe) plain lines, the first after :data:`FIRST_LINE_S` seconds and then at most one every
:data:`EVERY_S` seconds, so a long run is never silent and a short one prints nothing::

    archsim: run: 1200/100000 steps (1.2%), 12 s elapsed, about 990 s left
"""
from __future__ import annotations

import sys
import time

FIRST_LINE_S = 2.0
EVERY_S = 10.0


class LineProgress:
    """A minimal progress reporter with tqdm's ``update``/``reset``/``close`` methods."""

    def __init__(self, total: int, unit: str, what: str, stream=None, *,
                 first_s: float = FIRST_LINE_S, every_s: float = EVERY_S, clock=time.monotonic):
        self.total, self.unit, self.what = total, unit, what
        self.stream = stream if stream is not None else sys.stderr
        self.first_s, self.every_s, self.clock = first_s, every_s, clock
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.t0 = self.clock()
        self.next_s = self.first_s

    def update(self, k: int = 1) -> None:
        self.n += k
        elapsed = self.clock() - self.t0
        if elapsed >= self.next_s:
            self.next_s = elapsed + self.every_s
            self._line(elapsed)

    def _line(self, elapsed: float) -> None:
        left = ""
        if self.total and self.n:
            left = f", about {elapsed * (self.total - self.n) / self.n:.0f} s left"
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
