"""The PyTorch reference implementation: KV cache correctness and op annotations."""
import subprocess
import sys

import pytest

from archsim.errors import ArchsimError, ConfigError
from archsim.trace.generate import generate_trace
from archsim.workload import load_workload

FP32 = {"weights": "fp32", "activations": "fp32", "kv_cache": "fp32"}
MODELS = {
    "gpt2": {"extends": "gpt2_small", "num_layers": 2, "hidden_size": 64, "num_heads": 4,
             "ffn_size": 128, "vocab_size": 97},
    "opt": {"extends": "opt_1_3b", "num_layers": 2, "hidden_size": 64, "num_heads": 4,
            "ffn_size": 128, "vocab_size": 97},
    "llama_gqa": {"extends": "llama2_7b", "num_layers": 2, "hidden_size": 64, "num_heads": 8,
                  "num_kv_heads": 2, "ffn_size": 96, "vocab_size": 97},
}


def tiny(model, **kw):
    d = {"model": MODELS[model], "batch_size": 2, "prompt_tokens": 5, "generate_tokens": 6,
         "precision": FP32}
    d.update(kw)
    return load_workload(d)


def test_import_archsim_does_not_import_torch():
    code = ("import sys, archsim, archsim.reference, archsim.capture, archsim.validation, "
            "archsim.capture.cli, archsim.validation.cli; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_is_a_clear_error(monkeypatch):
    from archsim.reference import require_torch
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ArchsimError, match="needs PyTorch: pip install torch"):
        require_torch()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_kv_cache_decoding_matches_full_recompute(model):
    pytest.importorskip("torch")
    from archsim.reference.decode import generate, generate_no_cache, model_for, prompt_ids
    w = tiny(model)
    m = model_for(w, seed=3)
    ids = prompt_ids(w)
    cached = generate(m, ids, w.generate_tokens)
    full = generate_no_cache(m, ids, w.generate_tokens)
    assert cached.shape == (2, 6)
    assert cached.tolist() == full.tolist()
    # and the logits agree, not only their argmax
    cache = m.new_cache(2, 11)
    m.forward(ids, cache, 0)
    _, l_cached = m.forward(cached[:, :1], cache, 5)
    seq = __import__("torch").cat([ids, cached[:, :1]], dim=1)
    _, l_full = m.forward(seq, m.new_cache(2, 6), 0)
    assert (l_cached - l_full).abs().max().item() < 1e-4


@pytest.mark.parametrize("model", sorted(MODELS))
def test_annotations_are_the_analytic_ops_in_order(model):
    torch = pytest.importorskip("torch")
    from archsim.reference import ANNOTATION_PREFIX
    from archsim.reference.decode import generate, model_for, prompt_ids
    w = tiny(model, generate_tokens=2)
    m = model_for(w)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        generate(m, prompt_ids(w), 2)
    names = [e.name for e in sorted(prof.events(), key=lambda e: e.time_range.start)
             if e.name.startswith(ANNOTATION_PREFIX)]
    expected = [op.name for s in generate_trace(w).steps for op in s.ops]
    assert [n[len(ANNOTATION_PREFIX):] for n in names] == expected


def test_reference_refuses_mixed_precision():
    pytest.importorskip("torch")
    from archsim.reference.decode import model_for
    w = tiny("gpt2", precision={"weights": "int8", "activations": "fp16", "kv_cache": "fp16"})
    with pytest.raises(ConfigError, match="precision.weights"):
        model_for(w)


def test_reference_refuses_unsupported_dtype():
    pytest.importorskip("torch")
    from archsim.reference.model import torch_dtype
    with pytest.raises(ConfigError, match="fp32, fp16 or bf16"):
        torch_dtype("fp8")
