"""One decode step's attention on a PIM device: scores and context of every head, and the
``archsim pim-attention`` command.

For one query position (decode) with ``H`` query heads over ``Hkv`` KV heads of dimension ``d``
and a KV cache of ``L`` tokens, the step is

* **scores** ``s_h = K_h q_h`` under an attention mapping of :mod:`archsim.pim.mapping`:
  ``per_head`` runs ``H`` GEMVs (``rows = L``, ``cols = d``) one after another, each over all
  channels; ``concat_heads`` runs one multi-head stream (PIM-GPT head concatenation,
  :func:`archsim.pim.attention.simulate_scores_concat`), or falls back to ``per_head`` where the
  mapping does (a head wider than a row, ``H`` not a multiple of ``Hkv``);
* **context** ``o_h = V_h^T p_h``: ``H`` GEMVs (``rows = d``, ``cols = L``), one after another
  over all channels, or as the mapping places them (``head_per_channel``: each head's on its
  own channel, channels in parallel).

This is what the PIM device model (:mod:`archsim.devices.pim`) charges for the two attention ops
of one decode step, so the command reports the same cycles, commands and energy. The
softmax between scores and context runs off the PIM units and is not included.
"""
from __future__ import annotations

import json
from typing import Optional

from ..errors import ConfigError
from .mapping import ATTENTION_MAPPINGS, attention_mapping


def _add(total: dict, res, count: int) -> None:
    total["cycles"] += count * res.cycles
    total["energy_pj"] += count * res.energy.total_pj
    for k, v in res.commands.items():
        total["commands"][k] = total["commands"].get(k, 0) + count * v


def attention_step(pim, heads: int, head_dim: int, kv_len: int, *,
                   kv_heads: Optional[int] = None, mapping: Optional[str] = None,
                   dtype: Optional[str] = None, channels: Optional[int] = None) -> dict:
    """Cycles, command counts and energy of one decode step's attention (module docstring).

    Returns
    -------
    dict
        ``cycles``, ``time_ns``, ``energy_pj``, ``commands`` of the whole step, and the same
        keys under ``scores`` and ``context``, plus ``mapping`` (the one the scores used). A
        mapping that pipelines the whole step (``attacc``) has ``scores`` and ``context``
        ``None`` (its heads' phases overlap), and ``unpriced`` lists counted commands without
        an energy figure. ``mapping`` defaults to the PIM config's ``mapping.attention``, else
        ``per_head``.
    """
    from .gemv import gemv_split, simulate_gemv   # numba: imported when a step is simulated
    from .spec import load_pim
    pim = load_pim(pim)
    kv_heads = heads if kv_heads is None else kv_heads
    if min(heads, head_dim, kv_len, kv_heads) < 1:
        raise ConfigError(f"heads, head dim, KV length and KV heads must be positive, got "
                          f"{heads}, {head_dim}, {kv_len}, {kv_heads}")
    if heads % kv_heads:
        raise ConfigError(f"--heads {heads} must be a multiple of --kv-heads {kv_heads}")
    if mapping is None:
        cm = pim.config.mapping
        mapping = cm.attention if cm is not None and cm.attention else "per_head"
    m = attention_mapping(mapping)
    if m is None:
        raise ConfigError(f"unknown attention mapping {mapping!r}; expected one of "
                          f"{', '.join(sorted(ATTENTION_MAPPINGS))}")
    dtype = dtype or pim.config.mac.dtype
    shape = {"heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "kv_len": kv_len}

    def empty():
        return {"cycles": 0, "energy_pj": 0.0, "commands": {}}

    whole = m.step(pim, shape, dtype) if channels is None else None
    if whole is not None:
        out = _whole_step(pim, m.name, shape, dtype, whole)
        short = m.shortfall(pim, shape, dtype) if hasattr(m, "shortfall") else {}
        if short:
            # the generator as published: say what it leaves out or adds (never silently)
            out["as_published_minus_complete"] = short
        return out
    scores, context = empty(), empty()
    multi = m.scores(pim, shape, dtype) if channels is None else None
    if multi is not None:
        _add(scores, multi, 1)
        used = m.name
    else:
        if channels is not None and m.name != "per_head":
            raise ConfigError("--channels is supported with the per_head mapping only")
        _add(scores, simulate_gemv(pim, kv_len, head_dim, dtype, channels=channels), heads)
        used = "per_head"
    ctx = m.context(pim, shape, dtype) if used == m.name and channels is None else None
    if ctx is not None:
        _add(context, ctx, 1)
    else:
        _add(context, simulate_gemv(pim, head_dim, kv_len, dtype, channels=channels,
                                    split=gemv_split(pim, context=True)), heads)
    out = {"pim": pim.name, "mapping": used, "heads": heads, "kv_heads": kv_heads,
           "head_dim": head_dim, "kv_len": kv_len, "dtype": dtype}
    total = empty()
    for part in (scores, context):
        total["cycles"] += part["cycles"]
        total["energy_pj"] += part["energy_pj"]
        for k, v in part["commands"].items():
            total["commands"][k] = total["commands"].get(k, 0) + v
        part["time_ns"] = part["cycles"] * pim.tck_s * 1e9
    total["time_ns"] = total["cycles"] * pim.tck_s * 1e9
    out.update(total)
    out["scores"], out["context"] = scores, context
    return out


def _whole_step(pim, name: str, shape: dict, dtype: str, res) -> dict:
    """The output of a mapping that pipelines the whole step into one result."""
    table = pim.energy_table(dtype).per_command_pj
    out = {"pim": pim.name, "mapping": name, **shape, "dtype": dtype,
           "cycles": res.cycles, "time_ns": res.cycles * pim.tck_s * 1e9,
           "energy_pj": res.energy.total_pj, "commands": dict(res.commands),
           "scores": None, "context": None,
           "unpriced": sorted(k for k in res.commands if k not in table)}
    return out


def _pim_attention(args) -> int:
    out = attention_step(args.pim, args.heads, args.head_dim, args.kv_len,
                         kv_heads=args.kv_heads, mapping=args.mapping, dtype=args.dtype,
                         channels=args.channels)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"PIM {out['pim']}: attention of one decode step, {out['heads']} heads "
          f"({out['kv_heads']} KV) x {out['head_dim']}, KV length {out['kv_len']}, "
          f"scores mapping {out['mapping']}")
    for label, part in (("scores", out["scores"]), ("context", out["context"]), ("total", out)):
        if part is None:
            continue
        cmds = ", ".join(f"{k} {v}" for k, v in sorted(part["commands"].items()))
        print(f"  {label:8} {part['cycles']:>10} cycles  {part['time_ns']:>12.1f} ns  "
              f"{part['energy_pj'] / 1e6:>10.3f} uJ  {cmds}")
    if out.get("unpriced"):
        print(f"  energy leaves out {', '.join(out['unpriced'])} (counted, no energy figure)")
    if out.get("as_published_minus_complete"):
        diff = ", ".join(f"{k} {v:+d}" for k, v in sorted(out["as_published_minus_complete"]
                                                          .items()))
        print(f"  AttAcc's generator as published, against the complete stream: {diff} "
              "(--mapping attacc_complete issues them all)")
    return 0


def add_commands(subparsers) -> None:
    """Add ``pim-attention`` to an argparse subparsers object."""
    p = subparsers.add_parser("pim-attention", help="one decode step's attention on a PIM config",
                              description="Cycles, command counts and energy of the attention "
                              "scores and context of one query position on a PIM device.")
    p.add_argument("pim", help="PIM preset name or YAML file")
    p.add_argument("--heads", type=int, required=True, help="query heads")
    p.add_argument("--head-dim", type=int, required=True)
    p.add_argument("--kv-len", type=int, required=True, help="tokens in the KV cache")
    p.add_argument("--kv-heads", type=int, help="KV heads (default: --heads)")
    p.add_argument("--mapping", default=None,
                   help=f"attention mapping: {', '.join(sorted(ATTENTION_MAPPINGS))} (default: "
                   "the PIM config's mapping.attention, else per_head)")
    p.add_argument("--dtype", help="default: the MAC units' dtype")
    p.add_argument("--channels", type=int, help="channels used (per_head only; default all)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_pim_attention)
