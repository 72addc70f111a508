"""Writing output files atomically: a file appears whole, or not at all."""
from __future__ import annotations

import contextlib
import os
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".part"):
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``.

    The temporary file gets the permissions a plain ``open`` would give (``0o666 & ~umask``).
    On any exception it is removed and ``path`` is left untouched.
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path, data) -> None:
    """Write ``data`` (``str`` as UTF-8, or ``bytes``) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(tmp, "wb") as fh:
            fh.write(data)


def read_json(path, what: str, expected: str = ""):
    """Read a JSON file, gzip-compressed or not, as a :class:`~archsim.errors.TraceError` on
    failure (``what`` names the file kind in messages; ``expected`` is appended to a JSON error).
    """
    import gzip
    import json

    from .errors import TraceError
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise TraceError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, EOFError) as exc:
        raise TraceError(f"corrupt gzip data: {exc}", file=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        tail = f" ({expected})" if expected else ""
        raise TraceError(f"not valid JSON: {getattr(exc, 'msg', exc)}{tail}", file=path,
                         line=getattr(exc, "lineno", None)) from None
