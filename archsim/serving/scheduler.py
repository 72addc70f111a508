"""One replica's iteration-level scheduler with a paged KV cache (Orca, vLLM).

Orca (Yu et al., OSDI 2022) schedules at the granularity of iterations: requests join and leave
the running batch between forward passes. vLLM (Kwon et al., SOSP 2023) stores the KV cache in
fixed-size blocks allocated as sequences grow, and when a running sequence needs a block and
none is free it preempts the most recently admitted sequence, freeing its blocks and
recomputing it later (re-prefilling its prompt and the tokens it already generated). Chunked
prefill (Sarathi-Serve, Agrawal et al., OSDI 2024) splits prompts across iterations to fill a
per-iteration token budget next to the decodes.

Each iteration, in this order:

1. every running sequence whose prompt is done decodes one token; if their new KV entries
   need more blocks than are free, the latest admitted running sequence is preempted (put back
   at the head of the queue) until they fit;
2. running sequences still prefilling (chunked) get the next chunk, in admission order;
3. waiting sequences are admitted first come, first served while the batch has room
   (``max_batch``), the token budget has room (``max_tokens_per_step`` minus the decodes: a
   whole prompt, or a chunk with chunked prefill) and free blocks hold their first chunk; the
   first that does not fit stops admission (no overtaking).

A sequence's prefill yields its first token (or, after a preemption, its next one); each decode
yields one (speculative or tree decoding: a decode processes ``q`` candidate tokens, needs
blocks for them, and yields its round's accepted tokens, :mod:`.strategy`). A sequence leaves when it has all its output tokens, freeing its blocks.
"""
from __future__ import annotations

from collections import deque

from ..errors import ConfigError


class Replica:
    """Scheduler state of one replica (see module docstring).

    ``reqs``: the :class:`~.requests.Requests`; ``kv_blocks``: blocks of ``block_tokens``
    tokens the KV cache holds.
    """

    def __init__(self, reqs, cfg, kv_blocks: int, q: int = 1, mean: float = 1.0) -> None:
        self.cfg = cfg
        self.q, self.mean = q, mean       # tokens per decode pass, mean tokens yielded
        self.rounds: dict = {}            # request -> decode rounds so far
        self.prompt = reqs.prompt_tokens.tolist()
        self.output = reqs.output_tokens.tolist()
        self.bt = cfg.block_tokens
        self.total_blocks = kv_blocks
        self.free = kv_blocks
        self.waiting: deque = deque()
        self.running: list = []           # in admission order
        self.ctx: dict = {}               # request -> tokens in its KV cache
        self.target: dict = {}            # request -> tokens its current prefill must reach
        self.generated: dict = {}         # request -> output tokens so far
        self.held: dict = {}              # request -> KV blocks held
        self.preemptions = 0

    def blocks(self, tokens: int) -> int:
        return -(-tokens // self.bt)

    def add(self, i: int) -> None:
        self.waiting.append(i)
        self.generated.setdefault(i, 0)

    @property
    def idle(self) -> bool:
        return not self.running and not self.waiting

    def _preempt(self, i: int) -> None:
        self.running.remove(i)
        self.free += self.held.pop(i)
        del self.ctx[i]
        self.waiting.appendleft(i)
        self.preemptions += 1

    def plan(self) -> tuple:
        """The next iteration: ``(decodes, chunks)``, lists of requests and of
        ``(request, tokens)``."""
        cfg, bt = self.cfg, self.bt
        ctx, target = self.ctx, self.target
        q, held = self.q, self.held
        while True:
            decodes = [i for i in self.running if ctx[i] == target[i]]
            if q == 1:
                need = sum(1 for i in decodes if ctx[i] % bt == 0)
            else:                       # room for all q tokens before rejection
                need = sum(max(0, self.blocks(ctx[i] + q) - held[i]) for i in decodes)
            if need <= self.free:
                break
            self._preempt(self.running[-1])
        budget = cfg.max_tokens_per_step - q * len(decodes)
        chunks = []
        free = self.free - need
        for i in self.running:
            if ctx[i] < target[i] and budget > 0:
                c = min(target[i] - ctx[i], budget)
                extra = self.blocks(ctx[i] + c) - self.held[i]
                if extra > free:
                    c = (self.held[i] + free) * bt - ctx[i]
                    if c <= 0:
                        continue
                    extra = free
                chunks.append((i, c))
                budget -= c
                free -= extra
        while self.waiting and len(self.running) < cfg.max_batch and budget > 0:
            i = self.waiting[0]
            t = self.prompt[i] + self.generated[i]
            c = min(t, budget) if cfg.chunked_prefill else t
            if c > budget or self.blocks(c) > free:
                break
            self.waiting.popleft()
            self.running.append(i)
            ctx[i], target[i], self.held[i] = 0, t, 0
            chunks.append((i, c))
            budget -= c
            free -= self.blocks(c)
        return decodes, chunks

    def composition(self, decodes, chunks) -> tuple:
        """``(decoding sequences' cached tokens, prompt chunks as (tokens, kv after),
        sequences completing their prompt)`` of the iteration, for the iteration model; the
        chunks that complete their prompt (and sample) come first."""
        ctx, target = self.ctx, self.target
        done = [(c, ctx[i] + c) for i, c in chunks if ctx[i] + c == target[i]]
        return ([ctx[i] for i in decodes],
                done + [(c, ctx[i] + c) for i, c in chunks if ctx[i] + c != target[i]],
                len(done))

    def yielded(self, i: int) -> int:
        """Tokens request ``i``'s next decode round yields: ``floor((r+1) E) - floor(r E)``
        (1 for greedy decoding), capped at what it still needs."""
        if self.q == 1:
            return 1
        from ..transforms.decoding.passes import round_tokens
        return min(round_tokens(self.rounds.get(i, 0), self.mean),
                   self.output[i] - self.generated[i])

    def commit(self, decodes, chunks) -> tuple:
        """Apply an iteration; returns ``(first, finished)``: requests that got their first
        token and requests that are done."""
        ctx, target, gen, held = self.ctx, self.target, self.generated, self.held
        first, done = [], []
        for i in decodes:
            a = self.yielded(i)
            self.rounds[i] = self.rounds.get(i, 0) + 1
            ctx[i] += a
            target[i] += a
            gen[i] += a
        for i, c in chunks:
            ctx[i] += c
            if ctx[i] == target[i]:
                gen[i] += 1
                if gen[i] == 1:
                    first.append(i)
        for i in decodes + [i for i, _ in chunks]:
            nb = self.blocks(ctx[i])
            self.free -= nb - held[i]
            held[i] = nb
        for i in decodes + [i for i, _ in chunks]:
            if gen[i] >= self.output[i] and ctx[i] == target[i]:
                done.append(i)
                self.running.remove(i)
                self.free += held.pop(i)
                del ctx[i]
        return first, done


def check_requests(reqs, cfg, kv_blocks: int, bt: int, q: int = 1) -> None:
    """Refuse requests no schedule can serve: a prompt beyond the token budget without
    chunked prefill, or a sequence whose KV cache (with ``q - 1`` candidate tokens beyond its
    last one, under speculative or tree decoding) exceeds the whole cache."""
    longest = int((reqs.prompt_tokens + reqs.output_tokens - 1).max()) + q - 1
    if -(-longest // bt) > kv_blocks:
        i = int((reqs.prompt_tokens + reqs.output_tokens).argmax())
        raise ConfigError(f"request {i} needs a KV cache of {longest} tokens but the cache "
                          f"holds {kv_blocks * bt} tokens ({kv_blocks} blocks of {bt})")
    if not cfg.chunked_prefill:
        top = int((reqs.prompt_tokens + reqs.output_tokens - 1).max())
        if top > cfg.max_tokens_per_step:
            raise ConfigError(f"a prompt (with its recomputed tokens after a preemption) of "
                              f"up to {top} tokens exceeds max_tokens_per_step "
                              f"{cfg.max_tokens_per_step}; raise it or enable chunked "
                              "prefill")
