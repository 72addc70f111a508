"""The parallelism plan: shards that add up, the collectives Megatron issues, pipeline stages,
attention pools, overlap of micro-batches."""
from collections import Counter

import pytest

import archsim
from archsim import OpKind
from archsim.errors import ConfigError, SimulationError
from archsim.transforms import apply_transforms

H100 = {"extends": "h100_sxm"}


def design(parallelism, n=4, pool=0, **extra):
    d = {"name": "sys", "devices": {"gpu": {**H100, "count": n}},
         "switches": {"sw": {}},
         "links": [{"src": "gpu", "dst": "sw", "bandwidth": "450 GB/s", "latency": "1 us"}],
         "placement": {"default": "gpu0"}, "parallelism": parallelism, **extra}
    if pool:
        d["devices"]["h20"] = {"extends": "h20", "count": pool}
        d["links"].append({"src": "h20", "dst": "sw", "bandwidth": "50 GB/s",
                           "latency": "16 us"})
    return archsim.load_hardware(d)


def logical(model="llama2_7b", batch=4, prompt=16, gen=3, **kw):
    w = archsim.load_workload({"model": model, "batch_size": batch, "prompt_tokens": prompt,
                               "generate_tokens": gen, **kw})
    return archsim.generate_trace(w)


def transformed(hw, t):
    return apply_transforms(t, hw.trace_transforms(), hw)


def sums(ops, field):
    out = Counter()
    for o in ops:
        if o.kind is not OpKind.COLLECTIVE and o.kind is not OpKind.TRANSFER:
            out[o.name] += getattr(o, field)
    return out


@pytest.mark.parametrize("model", ["llama2_7b", "llama3_8b", "gpt2_small"])
def test_tensor_shards_add_up_to_the_unsharded_ops(model):
    t = logical(model)
    for tp in (2, 4):
        hw = design({"devices": "gpu", "tensor": tp}, n=tp)
        step, orig = transformed(hw, t).steps[1], t.steps[1]
        base = {f: sums(orig.ops, f) for f in ("flops", "weight_bytes", "kv_bytes")}
        got = {f: sums(step.ops, f) for f in ("flops", "weight_bytes", "kv_bytes")}
        for name, v in base["flops"].items():
            split = name.endswith(("qkv_proj", "out_proj", "ffn_up", "ffn_down", "lm_head",
                                   "attn_score", "softmax", "attn_context", "rope", ".act"))
            k = 1 if split else tp      # norms, residuals, embedding, sampling: on every rank
            kv_rep = 1
            if model == "llama3_8b" and tp > 8:
                kv_rep = tp // 8
            assert got["flops"][name] == k * v, name
            assert got["weight_bytes"][name] == k * base["weight_bytes"][name], name
            assert got["kv_bytes"][name] == kv_rep * base["kv_bytes"][name], name


def test_megatron_collectives_two_all_reduces_per_layer_and_a_logits_gather():
    hw = design({"devices": "gpu", "tensor": 4})
    step = transformed(hw, logical()).steps[1]
    colls = Counter(o.attrs["collective"] for o in step.ops if o.kind is OpKind.COLLECTIVE)
    assert colls == {"all_reduce": 2 * 32, "all_gather": 1}
    ar = next(o for o in step.ops if o.name == "L0.out_proj.all_reduce")
    assert ar.devices == ("gpu0", "gpu1", "gpu2", "gpu3")
    assert ar.shape == {"elements": 4 * 4096}                     # batch x hidden, once
    res = next(o for o in step.ops if o.name == "L0.residual1" and o.devices == ("gpu2",))
    assert step.ops[res.deps[0]] is ar                            # every rank waits for it


def test_gqa_with_fewer_kv_heads_than_ranks_replicates_them():
    # Llama-3-8B has 8 KV heads; at TP 16 each rank holds one KV head, two ranks per head
    hw = design({"devices": "gpu", "tensor": 16}, n=16)
    t = logical("llama3_8b")
    step = transformed(hw, t).steps[1]
    qkv = [o for o in step.ops if o.name == "L0.qkv_proj"]
    assert len(qkv) == 16 and all(o.shape["n"] == (32 // 16 + 2 * 1) * 128 for o in qkv)
    score = [o for o in step.ops if o.name == "L0.attn_score"]
    assert sum(o.kv_bytes for o in score) == 2 * t.steps[1].ops[
        [o.name for o in t.steps[1].ops].index("L0.attn_score")].kv_bytes


def test_bad_plans_are_clear_errors():
    with pytest.raises(ConfigError, match="needs data x pipeline x tensor = 8 units"):
        design({"devices": "gpu", "tensor": 8})
    with pytest.raises(ConfigError, match=r"parallelism.devices.*unknown device or group 'tpu'"):
        design({"devices": "tpu", "tensor": 4})
    with pytest.raises(ConfigError, match="does not divide the 25 attention heads"):
        transformed(design({"devices": "gpu", "tensor": 4}), logical("gpt2_xl"))
    with pytest.raises(ConfigError, match="layers_per_stage adds up to 30"):
        transformed(design({"devices": "gpu", "pipeline": 2, "layers_per_stage": [10, 20]},
                           n=2), logical())


def test_pipeline_stages_hold_their_layers_and_hand_over_the_residual():
    hw = design({"devices": "gpu", "pipeline": 4})
    step = transformed(hw, logical()).steps[1]
    by_dev = {o.layer: o.devices[0] for o in step.ops if o.layer >= 0}
    assert [by_dev[L] for L in (0, 7, 8, 31)] == ["gpu0", "gpu0", "gpu1", "gpu3"]
    n1 = next(o for o in step.ops if o.name == "L8.norm1")
    assert step.ops[n1.deps[0]].name == "L7.residual2"           # crosses gpu0 -> gpu1
    r = archsim.Simulator(hw).run(transformed(hw, logical()))
    assert r.link_stats["gpu0->sw"][0] > 0


def test_micro_batches_overlap_across_stages():
    # 4 stages, 4 micro-batches: below the serial sum, never below the busiest device's work
    hw1 = design({"devices": "gpu", "pipeline": 4})
    hw4 = design({"devices": "gpu", "pipeline": 4, "micro_batches": 4})
    t = logical(batch=8, prompt=64, gen=8)
    r1 = archsim.Simulator(hw1).run(transformed(hw1, t))
    r4 = archsim.Simulator(hw4).run(transformed(hw4, t))
    busy = max(sum(v for (d, _), v in r4.time_by_kind.items() if d == dev)
               for dev in hw4.devices) * 1e-12
    serial = sum(r4.time_by_kind.values()) * 1e-12
    assert busy <= r4.latency_s < serial
    assert r4.tokens == r1.tokens == 8 * 8


def test_attention_pool_gets_every_pair_and_sends_only_what_it_needs():
    hw = design({"devices": ["gpu0", "gpu1"], "tensor": 2, "attention": {"devices": "h20"}},
                n=2, pool=4)
    t = logical(batch=4)
    step = transformed(hw, t).steps[1]
    orig = {o.name: o for o in t.steps[1].ops}
    score = [o for o in step.ops if o.name == "L0.attn_score"]
    assert sorted(o.devices[0] for o in score) == ["h200", "h201", "h202", "h203"]
    assert sum(o.flops for o in score) == orig["L0.attn_score"].flops
    assert sum(o.kv_bytes for o in score) == orig["L0.attn_score"].kv_bytes
    sends = [o for o in step.ops if o.name == "L0.qkv_to_attention"]
    # batch 4 x 32 heads x (q + k + v) x 128 x 2 bytes, once (not again for the context)
    assert sum(o.bytes_written for o in sends) == 4 * 32 * 3 * 128 * 2
    backs = [o for o in step.ops if o.name == "L0.attention_to_dense"]
    assert sum(o.bytes_written for o in backs) == 4 * 32 * 128 * 2
    r = archsim.Simulator(hw).run(transformed(hw, t))
    assert {d for d, k in r.time_by_kind if k == "attention_score"} == \
        {"h200", "h201", "h202", "h203"}


def test_unused_devices_are_refused_unless_allowed(a100, gpt2_small):
    eight = {"name": "8x", "devices": {"gpu": {"extends": "a100_80gb", "count": 8}},
             "placement": {"default": "gpu0"}}
    with pytest.raises(SimulationError, match="7 device.*gpu1, gpu2"):
        archsim.run(eight, gpt2_small, overrides=["generate_tokens=2"])
    archsim.run({**eight, "allow_unused_devices": True}, gpt2_small,
                overrides=["generate_tokens=2"])


def test_capacity_is_per_device_never_summed():
    # Llama-2-70B (about 129 GiB of fp16 weights) on 2 x 80 GB: the old check summed 160 GB
    two = {"name": "2x", "devices": {"gpu": {"extends": "a100_80gb", "count": 2}},
           "placement": {"default": "gpu0"}, "allow_unused_devices": True}
    w = {"model": "llama2_70b", "batch_size": 1, "prompt_tokens": 8, "generate_tokens": 2}
    with pytest.raises(SimulationError, match=r"device 'gpu0'.*GiB missing"):
        archsim.run(two, w)
    tp = {**two, "links": [{"src": "gpu0", "dst": "gpu1", "bandwidth": "300 GB/s"}],
          "parallelism": {"devices": "gpu", "tensor": 2}}
    r = archsim.run(tp, w)     # half the weights each (64.6 GiB) fits in 80 GB
    assert r.tokens == 2


@pytest.mark.parametrize("plan, pool", [
    ({"devices": ["gpu0", "gpu1"], "tensor": 2, "micro_batches": 2,
      "attention": {"devices": "h20"}}, 4),
    ({"devices": "gpu", "pipeline": 2, "tensor": 2, "micro_batches": 2}, 0),
    ({"devices": "gpu", "tensor": 4}, 0)])
def test_patched_decode_steps_equal_steps_built_from_scratch(plan, pool, monkeypatch):
    import archsim.transforms.parallel as par
    hw = design(plan, n=2 if pool else 4, pool=pool)
    t = logical(batch=4, gen=5)
    fast = transformed(hw, t)
    monkeypatch.setattr(par, "same_structure", lambda a, b: False)
    slow = transformed(hw, t)
    for a, b in zip(fast.steps, slow.steps):
        assert a == b
    # decode steps share every op but those built from attention ops (and keep transfers)
    s3, s4 = fast.steps[3].ops, fast.steps[4].ops
    kept = [x is y for x, y in zip(s3, s4)]
    changed = {x.kind for x, y in zip(s3, s4) if x is not y}
    assert sum(kept) > len(kept) // 2
    assert changed <= {OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT, OpKind.SOFTMAX}
