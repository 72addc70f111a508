"""Errors that archsim reports to its users.

Every user-facing failure (bad YAML, bad trace, bad CLI value) is an :class:`ArchsimError`.
The CLI prints ``str(error)`` on one line and exits with code 2, without a traceback.
The message names the file, line and key path when they are known, and what was expected.
"""
from __future__ import annotations

EXIT_USAGE = 2


class ArchsimError(Exception):
    """A user-facing error with an optional source location.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    file : str, optional
        The file the bad input came from.
    line : int, optional
        1-based line number in ``file``.
    key : str, optional
        Dotted key path of the offending value (``devices.gpu0.memory_bandwidth``).
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"

    def located(self, *, file: str | None = None, line: int | None = None,
                key: str | None = None) -> "ArchsimError":
        """Return a copy of this error with missing location fields filled in."""
        return type(self)(self.message, file=self.file or file,
                          line=self.line if self.line is not None else line,
                          key=self.key or key)


class ConfigError(ArchsimError):
    """A hardware config, workload, DRAM spec or other YAML input is invalid."""


class TraceError(ArchsimError):
    """An AR decoding trace file is malformed or inconsistent."""


class SimulationError(ArchsimError):
    """A valid input cannot be simulated (e.g. the model does not fit in memory)."""
