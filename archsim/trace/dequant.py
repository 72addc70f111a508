"""Dequantisation work of weight-only low-bit matmuls (W4A16, W3A16, W8A16 kernels).

A matmul whose weights are stored narrower than its 16-bit floating-point activations (INT4
weights with FP16 scales per group of 128 and FP16 activations, as GPTQ and AWQ checkpoints run)
cannot feed the weights to an FP16 multiplier as stored: a weight-only kernel such as MARLIN
(Frantar et al., "MARLIN: Mixed-Precision Auto-Regressive Parallel Inference on Large Language
Models", arXiv 2408.11743) or FineQuant (Kim et al., arXiv 2308.09723) loads the
packed weights and, per weight element, before the tensor-core multiply:

1. **unpacks** it from its packed word (shift and mask; MARLIN does it with one ``lop3``
   instruction per pair of elements),
2. **converts** it to FP16 (MARLIN: the exponent-bias trick of Kim et al., arXiv 2211.10017 -- OR
   the integer into the mantissa of a magic FP16 number, then one FP16 subtract, which also
   removes the symmetric zero point of GPTQ's INT4),
3. **scales** it by its group's (or channel's) scale (one FP16 multiply).

That is :data:`DEQUANT_OPS_PER_ELEMENT` = 3 vector operations per stored weight, counted as the
module :mod:`archsim.trace.counting` counts element-wise work (one operation per arithmetic
instruction per element). Asymmetric zero points (AWQ) would add a subtract; the weight formats
of :mod:`archsim.trace.formats` do not store zero points, so none is counted.

The trace counts each stored weight dequantised **once** per matmul (``dequant_elements``, op
attribute, with ``dequant_ops_per_element``): what a decode kernel whose activations fit one tile
does. Devices price it (:func:`dequant_ops`) with their own rates and may multiply it by how often
their kernels re-dequantise a weight (the GPU: once per row tile of the activations). Weights as
wide as the activations (FP16 x FP16), integer activations (W8A8, W4A8: the multiplier takes the
integer weights directly) and plain FP32 models carry no dequantisation.
"""
from __future__ import annotations

from ..dtypes import DTYPE_BITS

#: unpack, convert to FP16, multiply by the scale (see module docstring; MARLIN, arXiv 2408.11743)
DEQUANT_OPS_PER_ELEMENT = 3

#: activation dtypes whose matmuls run on FP16/BF16 multipliers and so need dequantised weights
HALF_ACTIVATIONS = frozenset({"fp16", "bf16"})


def needs_dequant(act_dtype: str, weight_dtype: str | None) -> bool:
    """Whether a matmul with these dtypes dequantises its weights (narrower weights, half
    activations)."""
    if weight_dtype is None or act_dtype not in HALF_ACTIVATIONS:
        return False
    return DTYPE_BITS[weight_dtype] < DTYPE_BITS[act_dtype]


def dequant_attrs(act_dtype: str, weight_dtype: str | None, stored_weights: int) -> dict:
    """Op attributes of the dequantisation of ``stored_weights`` weights (empty if none)."""
    if not needs_dequant(act_dtype, weight_dtype):
        return {}
    return {"dequant_elements": int(stored_weights),
            "dequant_ops_per_element": DEQUANT_OPS_PER_ELEMENT}


def dequant_ops(op) -> int:
    """Vector operations of an op's weight dequantisation as counted in the trace (0 if none)."""
    a = op.attrs
    if not a or "dequant_elements" not in a:
        return 0
    return int(a["dequant_elements"]) * int(a.get("dequant_ops_per_element",
                                                  DEQUANT_OPS_PER_ELEMENT))
