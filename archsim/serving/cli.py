"""``archsim serve``: request-level serving simulation on a design point."""
from __future__ import annotations

import os

from ..errors import ConfigError


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="simulate serving requests that arrive over time "
                       "(continuous batching, paged KV cache, preemption)")
    p.add_argument("hw", help="hardware config YAML")
    p.add_argument("workload", help="workload YAML (model, precision, default request lengths)")
    p.add_argument("--arrivals", required=True, metavar="poisson:RATE|FILE.csv",
                   help="Poisson arrivals at RATE requests/s, or a request trace CSV "
                        "(archsim, Vidur or LLMServingSim columns)")
    p.add_argument("--requests", type=int, help="number of requests (Poisson)")
    p.add_argument("--prompt-tokens", metavar="DIST", help="N, uniform:LO:HI or "
                   "lognormal:MEDIAN:SIGMA:MAX (default: the workload's prompt_tokens)")
    p.add_argument("--output-tokens", metavar="DIST", help="as --prompt-tokens (default: the "
                   "workload's generate_tokens)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-batch", type=int, default=256)
    p.add_argument("--max-tokens-per-step", type=int, default=8192)
    p.add_argument("--chunked-prefill", action="store_true")
    p.add_argument("--block-tokens", type=int, default=16)
    p.add_argument("--memory-utilization", type=float, default=0.9)
    p.add_argument("--kv-capacity-tokens", type=int)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--slo-ttft", metavar="TIME", help="e.g. '500 ms'")
    p.add_argument("--slo-tpot", metavar="TIME", help="e.g. '50 ms'")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--plot", metavar="PNG", help="write KV use, batch size and latency CDFs")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="also write serve.json and requests.csv to DIR")
    p.add_argument("--force", action="store_true", help="run even when the up-front estimate "
                   "of work or memory is above the limits")
    p.set_defaults(func=cmd_serve)


def _dist(text: str, flag: str) -> dict:
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return {"dist": "constant", "value": int(parts[0])}
        if parts[0] == "uniform" and len(parts) == 3:
            return {"dist": "uniform", "low": int(parts[1]), "high": int(parts[2])}
        if parts[0] == "lognormal" and len(parts) == 4:
            return {"dist": "lognormal", "median": float(parts[1]), "sigma": float(parts[2]),
                    "high": int(parts[3])}
    except ValueError:
        pass
    raise ConfigError(f"{flag} {text!r}: expected N, uniform:LO:HI or "
                      "lognormal:MEDIAN:SIGMA:MAX")


def options(args) -> dict:
    """The :class:`~archsim.serving.ServeConfig` mapping the command-line options give."""
    cfg = {"seed": args.seed, "max_batch": args.max_batch,
           "max_tokens_per_step": args.max_tokens_per_step,
           "chunked_prefill": args.chunked_prefill, "block_tokens": args.block_tokens,
           "memory_utilization": args.memory_utilization, "replicas": args.replicas}
    a = args.arrivals
    if a.startswith("poisson:"):
        try:
            rate = float(a.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"--arrivals {a!r}: expected poisson:RATE (requests per "
                              "second)") from None
        cfg.update(arrivals="poisson", rate_per_s=rate)
        if args.requests is None:
            raise ConfigError("--arrivals poisson:RATE needs --requests N")
        cfg["requests"] = args.requests
    else:
        if not os.path.isfile(a):
            raise ConfigError(f"--arrivals {a!r}: expected poisson:RATE or an existing CSV "
                              "file")
        cfg.update(arrivals="trace", trace_file=a)
    for flag, key in (("prompt_tokens", "prompt_tokens"), ("output_tokens", "output_tokens")):
        v = getattr(args, flag)
        if v is not None:
            cfg[key] = _dist(v, "--" + flag.replace("_", "-"))
    if args.kv_capacity_tokens is not None:
        cfg["kv_capacity_tokens"] = args.kv_capacity_tokens
    if args.slo_ttft:
        cfg["slo_ttft"] = args.slo_ttft
    if args.slo_tpot:
        cfg["slo_tpot"] = args.slo_tpot
    return cfg


def cmd_serve(args) -> int:
    from ..fsutil import write_atomic
    from . import serve
    r = serve(args.hw, args.workload, options(args), overrides=args.overrides,
              force=args.force, progress=True)
    if args.plot:
        r.plot(args.plot)
    if args.output_dir:
        write_atomic(os.path.join(args.output_dir, "serve.json"), r.to_json())
        write_atomic(os.path.join(args.output_dir, "requests.csv"), requests_csv(r))
    print(r.to_json() if args.format == "json" else r.to_table())
    return 0


def requests_csv(r) -> str:
    """One row per request: arrival, lengths, TTFT, end-to-end (seconds)."""
    q = r.requests
    rows = ["request,arrival_s,prompt_tokens,output_tokens,ttft_s,e2e_s"]
    ttft, e2e = r.ttft_s, r.e2e_s
    for i in range(len(q)):
        rows.append(f"{i},{q.arrival_ps[i] * 1e-12:.9f},{q.prompt_tokens[i]},"
                    f"{q.output_tokens[i]},{ttft[i]:.9f},{e2e[i]:.9f}")
    return "\n".join(rows) + "\n"
