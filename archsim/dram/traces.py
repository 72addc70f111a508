"""Memory request traces in the formats users have: archsim's, Ramulator 2's and DRAMsim3's.

Formats (one request per line; blank lines and ``#`` comments are skipped):

* ``archsim``: ``[<arrival cycle>] <address> <R|W>`` (every line with an arrival cycle, or none).
* ``ramulator2``: Ramulator 2's ``LoadStoreTrace`` frontend, ``<LD|ST> <address>``
  (``src/frontend/impl/memory_trace/loadstore_trace.cpp``); requests are sent as fast as the
  queues take them, as there.
* ``dramsim3``: DRAMsim3's trace CPU, ``<hex address> <op> <arrival cycle>`` where ``op`` is
  ``READ``/``read``/``P_MEM_RD``/``P_FETCH`` or ``WRITE``/``write``/``P_MEM_WR``/``BOFF``
  (DRAMsim3 ``src/common.cc`` reads the address with ``std::hex``: hex with or without ``0x``;
  an operation it does not know is an error here, never a silent read).

Addresses (archsim and Ramulator 2 formats, as Ramulator 2 parses them): hex only with a
``0x`` prefix, decimal otherwise; ``1000`` is one thousand. Every address must lie inside the
device (``0 <= address < capacity``): an address past the end is an error naming the file and
line, never wrapped onto another row. Errors are :class:`~archsim.errors.ConfigError`.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

FORMATS = ("auto", "archsim", "ramulator2", "dramsim3")
_DRAMSIM3_READ = ("READ", "read", "P_MEM_RD", "P_FETCH")
_DRAMSIM3_WRITE = ("WRITE", "write", "P_MEM_WR", "BOFF")


def parse_address(text: str, *, hex_only: bool = False) -> int:
    """An address: ``0x``-prefixed hex, else decimal (``hex_only``: hex with or without
    ``0x``). Raises ValueError on anything else."""
    t = text.strip()
    if t[:2] in ("0x", "0X"):
        digits, base = t[2:], 16
    else:
        digits, base = t, 16 if hex_only else 10
    if not digits or digits[0] in "+-_" or "_" in digits:
        raise ValueError(text)
    return int(digits, base)


def detect_format(path: str) -> str:
    """The format of the first request line: ``LD``/``ST`` first is Ramulator 2's, a DRAMsim3
    operation second of three fields is DRAMsim3's, anything else archsim's."""
    with _open(path) as fh:
        for line in fh:
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            if parts[0] in ("LD", "ST"):
                return "ramulator2"
            if len(parts) == 3 and parts[1] in _DRAMSIM3_READ + _DRAMSIM3_WRITE:
                return "dramsim3"
            return "archsim"
    return "archsim"


def _open(path):
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read trace: {exc.strerror or exc}", file=path) from None


def read_trace(path: str, fmt: str = "auto", capacity_bytes: int | None = None):
    """Read a request trace.

    Parameters
    ----------
    path : str
    fmt : {"auto", "archsim", "ramulator2", "dramsim3"}
    capacity_bytes : int, optional
        The device capacity; an address at or past it is an error (``None``: only negative
        addresses and addresses beyond 2^63 are refused).

    Returns
    -------
    (addresses, is_write, arrival or None) : int64, bool, int64 arrays

    Raises
    ------
    ConfigError
        Naming the file and line of the first bad line.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown trace format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path)
    limit = capacity_bytes if capacity_bytes is not None else 1 << 63
    addrs, wrs, arrs = [], [], []
    with_arrival = None
    with _open(path) as fh:
        for ln, line in enumerate(fh, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            a_txt, op_w, cyc_txt = _fields(fmt, parts, text, path, ln)
            has = cyc_txt is not None
            if with_arrival is None:
                with_arrival = has
            elif has != with_arrival:
                raise ConfigError("every line must have an arrival cycle, or none",
                                  file=path, line=ln)
            try:
                a = parse_address(a_txt, hex_only=fmt == "dramsim3")
            except ValueError:
                want = "hex" if fmt == "dramsim3" else "0x-prefixed hex or decimal"
                raise ConfigError(f"bad address {a_txt!r}: expected {want}", file=path,
                                  line=ln) from None
            if a < 0 or a >= limit:
                where = f"the device capacity {limit:#x} ({limit} B)" if capacity_bytes \
                    is not None else "2^63"
                shown = a_txt if a_txt.lower() == f"{a:#x}" else f"{a_txt} ({a:#x})"
                raise ConfigError(f"address {shown} is outside 0 .. {where}: addresses are "
                                  f"never wrapped", file=path, line=ln)
            if has:
                try:
                    c = int(cyc_txt, 10)
                except ValueError:
                    raise ConfigError(f"bad arrival cycle {cyc_txt!r}", file=path,
                                      line=ln) from None
                if c < 0 or (arrs and c < arrs[-1]) or c >= 1 << 62:
                    raise ConfigError(f"arrival cycle {c} is negative, too large or earlier "
                                      "than the previous line's", file=path, line=ln)
                arrs.append(c)
            addrs.append(a)
            wrs.append(op_w)
    if not addrs:
        raise ConfigError("trace has no requests", file=path)
    return (np.array(addrs, np.int64), np.array(wrs, bool),
            np.array(arrs, np.int64) if with_arrival else None)


def _fields(fmt, parts, text, path, ln):
    """(address text, is write, arrival text or None) of one line."""
    if fmt == "ramulator2":
        if len(parts) != 2 or parts[0] not in ("LD", "ST"):
            raise ConfigError(f"expected Ramulator 2 '<LD|ST> <address>', got {text!r}",
                              file=path, line=ln)
        return parts[1], parts[0] == "ST", None
    if fmt == "dramsim3":
        if len(parts) != 3 or parts[1] not in _DRAMSIM3_READ + _DRAMSIM3_WRITE:
            raise ConfigError(f"expected DRAMsim3 '<hex address> <READ|WRITE> <cycle>', got "
                              f"{text!r}", file=path, line=ln)
        return parts[0], parts[1] in _DRAMSIM3_WRITE, parts[2]
    if len(parts) not in (2, 3):
        raise ConfigError(f"expected '[cycle] <address> <R|W>', got {text!r}",
                          file=path, line=ln)
    op = parts[-1].upper()
    if op not in ("R", "W"):
        raise ConfigError(f"bad operation {parts[-1]!r}: expected R or W", file=path, line=ln)
    return parts[-2], op == "W", parts[0] if len(parts) == 3 else None
