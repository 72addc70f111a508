"""Memoized op costs are keyed by every field that can change a cost."""
import dataclasses

import pytest

from archsim.trace.schema import IDENTITY_FIELDS, Op, OpKind

BASE = Op(3, "L0.ffn_up", OpKind.GEMM, 0, {"m": 4, "n": 8, "k": 16}, "fp16", 1024, 300, 64,
          weight_bytes=256, kv_bytes=0, weight_dtype="fp16", kv_dtype=None, deps=(1,),
          attrs={"fn": "gelu"})

CHANGES = {"kind": OpKind.GEMV, "shape": {"m": 4, "n": 8, "k": 32}, "dtype": "bf16",
           "flops": 1, "bytes_read": 1, "bytes_written": 1, "weight_bytes": 1, "kv_bytes": 1,
           "weight_dtype": "int4", "kv_dtype": "int8", "measured_ns": 5.0,
           "measured_energy_j": 1e-6, "attrs": {"fn": "silu"}}


def test_every_cost_field_is_covered_by_the_table_above():
    fields = {f.name for f in dataclasses.fields(Op)}
    assert fields - IDENTITY_FIELDS == set(CHANGES)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_changing_any_cost_field_changes_the_key(name):
    assert dataclasses.replace(BASE, **{name: CHANGES[name]}).signature() != BASE.signature()


@pytest.mark.parametrize("attrs", [{"fn": "gelu", "group_size": 128},
                                   {"fn": "gelu", "sparsity": {"n": 2, "m": 4}},
                                   {"fn": "gelu", "tree": [1, 2, 3]}])
def test_adding_any_attribute_changes_the_key(attrs):
    assert dataclasses.replace(BASE, attrs=attrs).signature() != BASE.signature()
    hash(dataclasses.replace(BASE, attrs=attrs).signature())   # usable as a memo key


def test_identity_fields_do_not_split_the_memo():
    other = dataclasses.replace(BASE, id=9, name="L5.ffn_up", layer=5, deps=(2, 4),
                                prior=((1, 0),), devices=("gpu3",))
    assert other.signature() == BASE.signature()
