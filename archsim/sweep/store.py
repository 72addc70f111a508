"""The results store of sweeps: one SQLite file, one row per design point.

A row is keyed by :func:`config_key`, a hash of the fully resolved configs (the design point
after ``extends`` and overrides, the workload, archsim's version), so a resumed sweep skips the
points already finished and identical points (written differently) run once. Metrics are
columns (:data:`METRICS`), and so is every swept parameter; the time and energy breakdown per
token is a JSON column. A failed point is a row with ``status = 'error'`` and its message.

The database runs in WAL mode and every result is committed as it arrives, so a sweep that is
killed loses only the points in flight (https://www.sqlite.org/wal.html).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time

from ..errors import ConfigError

#: metric columns, in order (units in the names)
METRICS = (
    "latency_s", "ttft_s", "tpot_mean_s", "tpot_p50_s", "tpot_p99_s", "batch", "tokens",
    "tokens_per_s", "decode_tokens_per_s", "energy_j", "energy_per_token_j", "average_power_w",
    "cost_rate_usd_per_h", "usd_per_mtok", "tokens_per_s_per_usd_per_h",
    "dense_s_per_token", "attention_s_per_token", "collective_s_per_token",
    "link_busy_s_per_token", "sim_wall_s",
)
#: bookkeeping columns
BASE_COLUMNS = ("key", "sweep", "status", "error", "params", "breakdown", "finished_at")
STORE_FORMAT = 1


def _digest(doc) -> str:
    text = json.dumps(doc, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def hardware_key(hw) -> str:
    """A hash of a fully resolved design point (and archsim's version and the store format)."""
    from .. import __version__
    return _digest({"format": STORE_FORMAT, "archsim": __version__,
                    "hw": dataclasses.asdict(hw)})


def config_key(hw, workload, *, hw_key: str | None = None) -> str:
    """A hash of a fully resolved design point and workload: the store's row key.
    ``hw_key`` (:func:`hardware_key` of ``hw``) saves hashing the design point again."""
    return _digest({"hw": hw_key or hardware_key(hw),
                    "workload": dataclasses.asdict(workload)})


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """An open results store; use :meth:`open` (the constructor does no I/O)."""

    def __init__(self, path: str, con: sqlite3.Connection):
        self.path, self.con = path, con

    @classmethod
    def open(cls, path, params=()) -> "Store":
        """Open (or create) the store at ``path`` with a column for each of ``params``."""
        path = os.fspath(path)
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        try:
            con = sqlite3.connect(path, timeout=30)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            cols = ", ".join(f"{_q(m)} REAL" for m in METRICS)
            con.execute(f"CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, sweep TEXT, "
                        f"status TEXT, error TEXT, params TEXT, breakdown TEXT, "
                        f"finished_at REAL, {cols})")
            have = {r[1] for r in con.execute("PRAGMA table_info(points)")}
            for p in params:
                if p not in have:
                    con.execute(f"ALTER TABLE points ADD COLUMN {_q(p)}")
            con.commit()
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"not a results store: {e}", file=path) from None
        return cls(path, con)

    @staticmethod
    def has_points(path) -> bool:
        """Whether ``path`` is a store with at least one point (read only, creates nothing)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            return False
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                return con.execute("SELECT COUNT(*) FROM points").fetchone()[0] > 0
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            if "no such table" in str(e):
                return False
            raise ConfigError(f"not a results store: {e}", file=path) from None

    def finished(self, *, include_errors: bool = True) -> set:
        """Keys of the points recorded (with or without those that failed)."""
        q = "SELECT key FROM points" + ("" if include_errors else " WHERE status = 'ok'")
        return {r[0] for r in self.con.execute(q)}

    def count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM points").fetchone()[0]

    def record(self, key: str, sweep: str, params: dict, status: str, metrics=None,
               error: str | None = None, breakdown=None) -> None:
        """Write one point's row and commit (a point recorded again replaces its row)."""
        row = {"key": key, "sweep": sweep, "status": status, "error": error,
               "params": json.dumps(params, sort_keys=True, default=str),
               "breakdown": json.dumps(breakdown) if breakdown is not None else None,
               "finished_at": time.time(), **params, **(metrics or {})}
        names = ", ".join(_q(k) for k in row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(f"INSERT OR REPLACE INTO points ({names}) VALUES ({marks})",
                         [_sql_value(v) for v in row.values()])
        self.con.commit()

    def close(self) -> None:
        self.con.close()


def _sql_value(v):
    if v is None or isinstance(v, (int, float, str)):
        return v
    return str(v)


def load(path):
    """A sweep store as a :class:`pandas.DataFrame`: one row per point, metrics and swept
    parameters as columns (``breakdown`` stays JSON text; ``params`` is every parameter as
    JSON)."""
    import pandas as pd
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError("no such results store", file=path)
    try:  # read only: loading never changes the file
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.DatabaseError as e:
        raise ConfigError(f"cannot open the results store: {e}", file=path) from None
    try:
        return pd.read_sql_query("SELECT * FROM points ORDER BY rowid", con)
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as e:
        raise ConfigError(f"not a results store: {e}", file=path) from None
    finally:
        con.close()


def _typed_for_parquet(df):
    """Parquet columns have one type: a parameter column that mixes numbers and text (a
    ``batch_size`` axis of ``[1, 8, max]``) is written as text."""
    df = df.copy()
    for c in df.columns[df.dtypes == object]:
        kinds = {type(v) for v in df[c] if v is not None}
        if len(kinds) > 1:
            df[c] = [None if v is None else str(v) for v in df[c]]
    return df


def export(path, out) -> int:
    """Write the store at ``path`` to ``out`` (``.csv`` or ``.parquet``) atomically; returns
    the number of rows."""
    from ..fsutil import atomic_path
    out = os.fspath(out)
    if not out.endswith((".csv", ".parquet")):
        raise ConfigError(f"export {out!r}: expected a .csv or .parquet file name")
    df = load(path)
    with atomic_path(out) as tmp:
        if out.endswith(".csv"):
            df.to_csv(tmp, index=False)
        else:
            _typed_for_parquet(df).to_parquet(tmp, index=False)
    return len(df)
