"""The archsim AR-decoding trace, version 1.

A trace is the ordered list of *steps* of an autoregressive generation (one prefill step, then one
step per decoded token); each step is a DAG of *ops*. Ops carry exact FLOPs and bytes as counted by
:mod:`archsim.trace.counting` conventions, and optionally a measured duration and energy (filled
from a real GPU by the capture pipeline). The on-disk form is JSON (optionally gzip) documented in
``docs/trace_format.md``; :mod:`archsim.trace.io` reads and validates it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

SCHEMA_NAME = "archsim.trace"
SCHEMA_VERSION = 1


class OpKind(str, enum.Enum):
    """What an op computes. Devices price ops by kind and shape."""

    GEMM = "gemm"                      # activations x weights, M > 1 rows
    GEMV = "gemv"                      # activations x weights, a single row (batch-1 decode)
    ATTENTION_SCORE = "attention_score"      # Q K^T against the KV cache
    ATTENTION_CONTEXT = "attention_context"  # softmax(S) V against the KV cache
    SOFTMAX = "softmax"
    NORM = "norm"                      # LayerNorm / RMSNorm
    ACTIVATION = "activation"          # GELU, ReLU, SiLU-gated (SwiGLU)
    EMBEDDING = "embedding"            # token (and learned position) lookup
    ELEMENTWISE = "elementwise"        # residual add, RoPE, sampling
    COLLECTIVE = "collective"          # all-reduce / all-gather between devices
    TRANSFER = "transfer"              # explicit copy between devices


#: every op kind's name, in declaration order (the one list configs validate against)
OP_KINDS = tuple(k.value for k in OpKind)


class Phase(str, enum.Enum):
    """What a step does for its sequences: all prefill, all decode, or a mix of both (a
    continuous-batching iteration that prefills some sequences while decoding others)."""

    PREFILL = "prefill"
    DECODE = "decode"
    MIXED = "mixed"


MATMUL_KINDS = frozenset({OpKind.GEMM, OpKind.GEMV})
ATTENTION_KINDS = frozenset({OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT})


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a step.

    Attributes
    ----------
    id : int
        Unique within the step, and every dependency has a smaller id (ops are topologically
        ordered).
    name : str
        Stable name, e.g. ``"L3.qkv_proj"``; the GPU reference implementation uses the same names
        in ``torch.profiler.record_function`` so captured kernels map to ops.
    kind : OpKind
    layer : int
        Decoder layer index, or -1 for ops outside the layers (embedding, final norm, LM head).
    shape : dict
        Kind-specific shape. Matmuls: ``m, n, k``; attention: ``batch, heads, kv_heads, q_len,
        kv_len, head_dim``; others: ``rows, cols`` (elements = rows * cols).
    dtype : str
        Activation (compute) dtype.
    flops, bytes_read, bytes_written : int
        Exact counts for the op as specified (see :mod:`archsim.trace.counting`).
    weight_bytes : int
        Part of ``bytes_read`` that is static weights (0 if none).
    kv_bytes : int
        Part of ``bytes_read`` + ``bytes_written`` that is KV cache.
    weight_dtype, kv_dtype : str or None
    deps : tuple of int
        Ids of ops that must finish first.
    measured_ns : float or None
        Measured device time (summed kernel time) when captured on real hardware.
    measured_energy_j : float or None
    attrs : dict
        Free-form extra facts (kernel names, activation function, ...).
    devices : tuple of str
        Devices the op is pinned to by a trace transform (a parallelism plan's shard, a
        captured multi-device run); empty: the mapping stage's placement rules decide. A
        ``collective`` op names all its members: it runs on every one of them at once.
    prior : tuple of (int, int)
        Dependencies on ops of earlier steps, as ``(steps back, op id)``: ``(1, 7)`` is op 7 of
        the previous step. Relative, so decode steps can share op objects.
    """

    id: int
    name: str
    kind: OpKind
    layer: int
    shape: dict
    dtype: str
    flops: int
    bytes_read: int
    bytes_written: int
    weight_bytes: int = 0
    kv_bytes: int = 0
    weight_dtype: str | None = None
    kv_dtype: str | None = None
    deps: tuple = ()
    measured_ns: float | None = None
    measured_energy_j: float | None = None
    attrs: dict = field(default_factory=dict)
    devices: tuple = ()
    prior: tuple = ()

    def signature(self) -> tuple:
        """Key under which two ops cost the same on a device (for memoizing op costs).

        Every field except those that only say where an op sits in the graph or the trace
        (:data:`IDENTITY_FIELDS`), all attributes included, so a field or attribute added by a
        transform can never reuse a cost computed without it (``tests/test_signature.py`` fails
        when a field is added to :class:`Op` and not here). Attributes are frozen recursively.
        """
        a = self.attrs
        if a:
            for v in a.values():
                if isinstance(v, _NESTED):
                    a = _frozen(a)
                    break
            else:                           # scalar attributes: frozen as their sorted items
                a = tuple(sorted(a.items()))
        return (self.kind, tuple(sorted(self.shape.items())), self.dtype, self.flops,
                self.bytes_read, self.bytes_written, self.weight_bytes, self.kv_bytes,
                self.weight_dtype, self.kv_dtype, self.measured_ns, self.measured_energy_j,
                a or None)


#: fields that say where an op sits (graph position, name, pins), not what it costs
IDENTITY_FIELDS = frozenset({"id", "name", "layer", "deps", "prior", "devices"})


_NESTED = (dict, list, tuple, set)


def _frozen(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, set):
        return tuple(sorted(_frozen(x) for x in v))
    return v


@dataclass(frozen=True, slots=True)
class Step:
    """One forward pass: the prefill, one decode step, or a mixed iteration.

    ``new_tokens`` is the number of tokens processed per sequence in this step and
    ``context_len`` the KV length per sequence after it.

    ``tokens_out`` is the number of tokens the step yields, summed over its sequences (``None``:
    one per sequence, ``batch``); a speculative or tree-decoding step yields several per
    sequence. ``first_tokens`` is the number of sequences whose first token this step yields
    (``None``: ``batch`` for a prefill step, 0 otherwise); TTFT is measured to those steps.

    ``barrier``: the step starts only when every op of the previous step has finished (plain
    autoregressive decoding: the next token needs the sampled one). Without a barrier its ops
    wait only for their own dependencies, ``Op.prior`` included, so steps can overlap (micro-batch
    pipelining).
    """

    index: int
    phase: Phase
    batch: int
    new_tokens: int
    context_len: int
    ops: tuple
    measured_ns: float | None = None
    measured_energy_j: float | None = None
    tokens_out: int | None = None
    first_tokens: int | None = None
    barrier: bool = True

    @property
    def yielded_tokens(self) -> int:
        """Tokens this step yields over all its sequences."""
        return self.batch if self.tokens_out is None else self.tokens_out

    @property
    def first_token_sequences(self) -> int:
        """Sequences whose first token this step yields."""
        if self.first_tokens is not None:
            return self.first_tokens
        return self.batch if self.phase is Phase.PREFILL else 0

    @property
    def flops(self) -> int:
        return sum(op.flops for op in self.ops)

    @property
    def bytes_moved(self) -> int:
        return sum(op.bytes_read + op.bytes_written for op in self.ops)

    @property
    def weight_bytes(self) -> int:
        return sum(op.weight_bytes for op in self.ops)


@dataclass(frozen=True)
class Trace:
    """A whole generation: steps plus where it came from.

    ``source`` is ``"analytic"`` (generated from a workload) or ``"captured"`` (from a device);
    ``workload`` is the workload as a plain dict, ``meta`` free-form (device properties, software
    versions, capture settings).
    """

    steps: tuple
    workload: dict
    source: str = "analytic"
    meta: dict = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    @property
    def prefill(self) -> Step | None:
        return next((s for s in self.steps if s.phase is Phase.PREFILL), None)

    @property
    def decode_steps(self) -> tuple:
        return tuple(s for s in self.steps if s.phase is Phase.DECODE)

    @property
    def num_ops(self) -> int:
        return sum(len(s.ops) for s in self.steps)
