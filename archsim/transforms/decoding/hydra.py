"""Hydra heads: sequentially dependent Medusa-style draft heads.

Ankner et al., "Hydra: Sequentially-Dependent Draft Heads for Medusa Decoding", arXiv 2402.05109.

A Medusa head guesses the token ``i + 1`` positions ahead from the target's last hidden state
alone; a Hydra head also sees the tokens drafted before it. Head ``i`` (0-based) takes the
concatenation of the hidden state and the input embeddings of the ``i + 1`` tokens on its path
(the target's own next token, then one per earlier head), so it cannot start before head
``i - 1`` has chosen its token. Per head, as the authors' reference implementation builds its MLP
head (``zankner/Hydra``, ``hydra_heads/mlp_head.py``):

* ``embed``: gather the embedding row of the newest token on the path (earlier rows are kept),
  which waits for the previous head's top-k (for head 0, the target's own sampled token);
* a first residual block on the ``(i + 2) d``-wide input: ``fc0`` (``(i + 2) d x d`` linear with
  bias), SiLU, and a ``skip0`` linear of the same shape (the residual path must reduce the width),
  added; then ``head_layers - 1`` plain ``d x d`` residual blocks as Medusa's;
* its own ``d x vocab`` LM head (with bias, a default ``nn.Linear``) and a top-k over the logits
  (one compare per logit).

The heads run on the same ``rows`` as Medusa's in :mod:`.medusa` (every tree position of the
verification pass): an upper bound on Hydra's own proposal, which runs head ``i`` only on the
paths it expands at depth ``i`` of the tree. Op names follow Medusa's (``medusa.h<i>.*``) so the
tensor-parallel roles and the refusals of :mod:`.plan_roles` apply to them unchanged.
"""
from __future__ import annotations

from ...dtypes import nbytes
from ...trace.counting import elementwise, matmul
from ...trace.generate import OpList
from ...trace.schema import Op, OpKind
from .medusa import head_output, residual_block


def hydra_heads(w, rows: int, base: list) -> list:
    """Ops of every Hydra head on ``rows`` positions, after the final norm of ``base``."""
    md, m = w.decoding.medusa, w.model
    act, wt, d = w.precision.activations, w.precision.weights, m.hidden_size
    src = next(op.id for op in base if op.name == "final_norm")
    emb_dtype = next((op.weight_dtype for op in base if op.name == "embed"), None) or wt
    token = base[-1].id                 # the target's sampled token starts every path
    o = OpList(start=len(base))
    embeds: list = []
    for h in range(md.heads):
        gathered = nbytes(rows * d, emb_dtype)
        embeds.append(o.add(lambda i: Op(
            i, f"medusa.h{h}.embed", OpKind.EMBEDDING, -1, {"rows": rows, "cols": d}, act, 0,
            gathered, nbytes(rows * d, act), weight_bytes=gathered, weight_dtype=emb_dtype,
            deps=(token,), attrs={"fn": "copy"})))
        width = (h + 2) * d             # [hidden state; embeddings of the path's h + 1 tokens]
        inputs = (src, *embeds)
        fc = o.add(matmul, f"medusa.h{h}.fc0", -1, rows, d, width, act, wt, inputs, bias=True)
        skip = o.add(matmul, f"medusa.h{h}.skip0", -1, rows, d, width, act, wt, inputs,
                     bias=True)
        a = o.add(elementwise, f"medusa.h{h}.act0", OpKind.ACTIVATION, -1, rows, d, "silu", act,
                  (fc,))
        x = o.add(elementwise, f"medusa.h{h}.residual0", OpKind.ELEMENTWISE, -1, rows, d, "add",
                  act, (a, skip), inputs=2)
        for L in range(1, md.head_layers):
            x = residual_block(o, h, L, x, rows, d, act, wt)
        token = head_output(o, h, x, rows, m.vocab_size, d, act, wt, bias=True)
    return o.ops
