"""Where numba keeps archsim's compiled kernels: a per-user cache directory, never the package.

The kernels are compiled with ``numba.njit(cache=True)``. By default numba writes its cache
files next to the source (``site-packages/archsim/dram/__pycache__``), and ``pip uninstall``
does not remove them: the leftover ``archsim/`` folder of ``__pycache__`` directories then shadows
a later editable install (``ImportError: cannot import name '__version__' from 'archsim'``).

:func:`install` registers a numba cache locator for archsim's own source files only, which
keeps their cache in ``<user cache dir>/numba`` (:func:`cache_dir`, from :mod:`platformdirs`:
``~/.cache/archsim`` on Linux, ``~/Library/Caches/archsim`` on macOS, ``%LOCALAPPDATA%`` on
Windows), or in a per-user folder of the temporary directory when that cannot be written.
A ``NUMBA_CACHE_DIR`` set by the user still wins (numba's own locator is asked first); other
code in the same process keeps numba's defaults. numba keys each entry by the source file's
directory (hashed) and a stamp of its source, so several installs or checkouts of archsim share
the directory safely. numba's stamp covers the kernel's own file only, while archsim's kernels
inline parts from other modules (the DRAM controller and the PIM schedulers inline
``archsim/dram/timing.py``): an edit there alone would leave a stale kernel in the cache, giving
old results in silence. The stamp here (:func:`source_stamp`) hashes every source file of the
kernel's own subpackage and of ``archsim/dram``. The modules that compile kernels call :func:`install`
right after importing numba, before their first ``njit(cache=True)``.
"""
from __future__ import annotations

import functools
import os
import tempfile

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=1)
def cache_dir() -> str:
    """A writable directory for archsim's numba cache (created on first use)."""
    import platformdirs
    uid = getattr(os, "getuid", lambda: "user")()
    candidates = (os.path.join(platformdirs.user_cache_dir("archsim", appauthor=False), "numba"),
                  os.path.join(tempfile.gettempdir(), f"archsim-{uid}", "numba"))
    for path in candidates:
        try:
            os.makedirs(path, exist_ok=True)
            tempfile.TemporaryFile(dir=path).close()
            return path
        except OSError:
            continue
    return candidates[0]


#: subpackages whose modules every kernel may inline (the shared DRAM timing helpers)
SHARED_KERNEL_DIRS = ("dram",)


@functools.lru_cache(maxsize=None)
def _dir_digest(path: str, stamps: tuple) -> bytes:
    import hashlib
    h = hashlib.sha256()
    for name, _mtime, _size in stamps:
        h.update(name.encode())
        with open(os.path.join(path, name), "rb") as f:
            h.update(f.read())
    return h.digest()


def _digest_of_dir(path: str) -> bytes:
    """sha256 of the ``.py`` files of ``path`` (re-read when a file's time or size changes)."""
    stamps = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(path, name))
            stamps.append((name, st.st_mtime_ns, st.st_size))
    return _dir_digest(path, tuple(stamps))


def source_stamp(py_file: str) -> str:
    """Stamp of a kernel in ``py_file``: a hash of the sources of its own directory and of
    :data:`SHARED_KERNEL_DIRS`, so that an edit of a module it inlines recompiles it."""
    import hashlib
    dirs = {os.path.dirname(os.path.abspath(py_file))}
    dirs.update(os.path.join(PACKAGE_DIR, d) for d in SHARED_KERNEL_DIRS)
    h = hashlib.sha256()
    for d in sorted(dirs):
        h.update(_digest_of_dir(d))
    return h.hexdigest()


def in_package(py_file: str) -> bool:
    """Whether ``py_file`` is one of archsim's own source files."""
    path = os.path.abspath(py_file)
    return os.path.commonpath([path, PACKAGE_DIR]) == PACKAGE_DIR


@functools.lru_cache(maxsize=1)
def _locator_class():
    from numba.core import caching

    class ArchsimCacheLocator(caching.UserProvidedCacheLocator):
        """numba's user-provided-directory locator, for archsim's files, in :func:`cache_dir`."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(cache_dir(),
                                            self.get_suitable_cache_subpath(py_file))

        def get_source_stamp(self):
            return source_stamp(self._py_file)

        @classmethod
        def from_function(cls, py_func, py_file):
            if not in_package(py_file):
                return None
            # skip UserProvidedCacheLocator's NUMBA_CACHE_DIR test: the source-file mixin
            # builds the locator and checks that its directory is writable
            return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)

    return ArchsimCacheLocator


def install() -> None:
    """Register the locator (idempotent), after numba's ``NUMBA_CACHE_DIR`` locator and before
    the one that writes next to the source."""
    from numba.core import caching
    classes = caching.CacheImpl._locator_classes
    loc = _locator_class()
    if loc not in classes:
        i = classes.index(caching.UserProvidedCacheLocator) + 1 \
            if caching.UserProvidedCacheLocator in classes else 0
        classes.insert(i, loc)
