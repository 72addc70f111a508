"""Checking output paths before any work starts.

A command that would fail to write its output (a directory that cannot be created, a file where
a directory is needed, two outputs on one path) says so at once, as a one-line
:class:`~archsim.errors.ArchsimError` naming the option, before it simulates anything, so a
failing output never leaves a partial result behind. :func:`writing` turns an ``OSError`` at
write time (disk full, a race) into the same kind of error.
"""
from __future__ import annotations

import contextlib
import os

from .errors import ArchsimError


def _nearest_existing(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _check_parent(path: str, option: str, shown: str) -> None:
    """The directory that will hold ``path`` exists and is writable, or can be created."""
    parent = os.path.dirname(os.path.abspath(path))
    base = _nearest_existing(parent)
    if not os.path.isdir(base):
        raise ArchsimError(f"cannot write {shown}: {base} is a file, not a directory", key=option)
    if not os.access(base, os.W_OK | os.X_OK):
        raise ArchsimError(f"cannot write {shown}: directory {base} is not writable", key=option)


def check_file(path, option: str, suffixes: tuple = ()) -> str:
    """Check that output file ``path`` (given with ``option``) can be written; returns it."""
    path = os.fspath(path)
    shown = repr(path)
    if not path:
        raise ArchsimError("expected a file name", key=option)
    if suffixes and not path.endswith(suffixes):
        raise ArchsimError(f"{shown} must end in {' or '.join(suffixes)}", key=option)
    if os.path.isdir(path):
        raise ArchsimError(f"cannot write {shown}: it is a directory", key=option)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ArchsimError(f"cannot write {shown}: the file is read-only", key=option)
    _check_parent(path, option, shown)
    return path


def check_dir(path, option: str, files: tuple = ()) -> str:
    """Check that output directory ``path`` exists or can be created, and that ``files`` can be
    written in it; returns it."""
    path = os.fspath(path)
    shown = repr(path)
    if not path:
        raise ArchsimError("expected a directory name", key=option)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ArchsimError(f"cannot write into {shown}: it is an existing file, not a "
                               "directory", key=option)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ArchsimError(f"cannot write into {shown}: the directory is not writable",
                               key=option)
    else:
        _check_parent(os.path.join(path, "x"), option, shown)
    for name in files:
        if os.path.isdir(os.path.join(path, name)):
            raise ArchsimError(f"cannot write {os.path.join(path, name)!r}: it is a directory",
                               key=option)
    return path


def check_distinct(outputs: dict) -> None:
    """Refuse two outputs on one path (``outputs``: option -> the file paths it writes)."""
    seen: dict = {}
    for option, paths in outputs.items():
        for p in paths:
            key = os.path.realpath(os.path.abspath(os.fspath(p)))
            if key in seen and seen[key] != option:
                raise ArchsimError(f"{p!r} is also written by {seen[key]}", key=option)
            seen[key] = option


@contextlib.contextmanager
def writing(path, option: str):
    """Report an ``OSError`` while writing ``path`` as a one-line error naming ``option``."""
    try:
        yield
    except OSError as exc:
        raise ArchsimError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}",
                           key=option) from None
