"""Numeric data types used for weights, activations and KV caches."""
from __future__ import annotations

#: bits per element; names follow PyTorch where it has them (source: IEEE 754, OCP MX spec for fp8)
DTYPE_BITS = {
    "fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "fp8_e4m3": 8, "fp8_e5m2": 8,
    "int8": 8, "int4": 4, "fp4": 4, "int3": 3, "int2": 2,
}


def dtype_bits(name: str) -> int:
    """Bits per element of dtype ``name``; ``KeyError`` for an unknown name."""
    return DTYPE_BITS[name]


def nbytes(elements: int, dtype: str) -> int:
    """Exact bytes occupied by ``elements`` values of ``dtype`` (sub-byte types packed, rounded up)."""
    return -(-int(elements) * DTYPE_BITS[dtype] // 8)


def dtype_bytes(name: str) -> int:
    """Whole bytes per element of a byte-aligned dtype (``ValueError`` for sub-byte types)."""
    bits = DTYPE_BITS[name]
    if bits % 8:
        raise ValueError(f"dtype {name!r} is {bits} bits, not a whole number of bytes")
    return bits // 8
