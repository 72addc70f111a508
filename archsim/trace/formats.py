"""Low-bit weight storage: group-wise scales, N:M structured sparsity and their exact bytes.

A matmul's weights ``W[k, n]`` (``k`` input features, ``n`` outputs) are stored as

* **values**: ``nnz`` elements of ``weight_dtype`` packed (``ceil(nnz x bits / 8)`` bytes), where
  ``nnz = k n`` dense, or ``n x (N floor(k / M) + min(k mod M, N))`` under ``N:M`` sparsity
  (at most ``N`` non-zeros in every group of ``M`` consecutive weights along ``k``, as in the
  2:4 sparsity of NVIDIA Ampere, Mishra et al., arXiv 2104.08378);
* **index metadata** (sparse only): ``index_bits`` per stored value, the position of the value
  in its group of ``M`` (default ``ceil(log2 M)``: 2 bits for 2:4, as in the Ampere format),
  ``ceil(nnz x index_bits / 8)`` bytes;
* **scales** (``group_size`` set): one ``scale_dtype`` scale per group of ``group_size``
  consecutive weights along ``k`` of each output, ``n x ceil(k / group_size)`` scales (GPTQ and
  AWQ group-wise quantization; zero points, when a scheme uses them, are not counted);
* **bias** (if any): ``n`` values at ``scale_dtype``.

Without a group size and without sparsity, weights are the plain dense tensor of
``weight_dtype`` (bias at the same dtype), exactly as before these formats existed, so traces of
plain workloads are unchanged.

An op with such weights carries ``attrs``: ``weight_group`` (the group size), ``scale_dtype``
and ``sparsity`` (``"N:M"``) and ``index_bits``, so devices can price or refuse them
(:func:`refuse_sparse`), and its ``flops`` count only the non-zero multiply-accumulates.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dtypes import nbytes
from ..errors import ConfigError


@dataclass(frozen=True)
class WeightFormat:
    """How one matmul's weights are stored (see module docstring)."""

    dtype: str
    group_size: int | None = None
    scale_dtype: str = "fp16"
    sparsity: tuple | None = None       # (N, M)
    index_bits: int = 0

    @property
    def plain(self) -> bool:
        """Dense, no scales: the tensor of ``dtype`` alone."""
        return self.group_size is None and self.sparsity is None

    def nonzeros(self, k: int, n: int) -> int:
        """Stored weight values of a ``[k, n]`` matrix."""
        if self.sparsity is None:
            return k * n
        N, M = self.sparsity
        return n * (N * (k // M) + min(k % M, N))

    def bytes(self, k: int, n: int, bias: bool) -> int:
        """Exact bytes of a ``[k, n]`` weight matrix (plus bias) in this format."""
        if self.plain:
            return nbytes(k * n + (n if bias else 0), self.dtype)
        nnz = self.nonzeros(k, n)
        out = nbytes(nnz, self.dtype)
        if self.sparsity is not None:
            out += -(-nnz * self.index_bits // 8)
        if self.group_size is not None:
            out += nbytes(n * -(-k // self.group_size), self.scale_dtype)
        if bias:
            out += nbytes(n, self.scale_dtype)
        return out

    def attrs(self) -> dict:
        """Op attributes describing the format (empty for plain weights)."""
        a = {}
        if self.group_size is not None:
            a["weight_group"] = self.group_size
            a["scale_dtype"] = self.scale_dtype
        if self.sparsity is not None:
            a["sparsity"] = f"{self.sparsity[0]}:{self.sparsity[1]}"
            a["index_bits"] = self.index_bits
        return a


def op_sparsity(op) -> tuple | None:
    """``(N, M)`` of an op's weights, or ``None`` when dense."""
    s = op.attrs.get("sparsity") if op.attrs else None
    if not s:
        return None
    n, m = str(s).split(":")
    return int(n), int(m)


def refuse_sparse(op, device: str, kind: str, why: str) -> None:
    """Raise a :class:`ConfigError` if ``op`` has N:M sparse weights, which device ``device`` of
    kind ``kind`` cannot price (``why`` says what it lacks)."""
    sp = op_sparsity(op)
    if sp is not None:
        raise ConfigError(f"op {op.name!r} has {sp[0]}:{sp[1]} sparse weights, which the {kind} "
                          f"model of device {device!r} cannot price ({why}); remove the "
                          "workload's 'sparsity' or place the op on a device that skips zeros",
                          key=f"devices.{device}")
