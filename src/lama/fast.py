# Generated from docs/fast.md by tools/tangle.py. Do not edit: change the chapter.
"""GPT-2 decoding made fast on a CPU, from outside the model: the output layer in two pieces, a
two-stage sum for one position's Linear layers, stored intermediate results, bucketed prompt
lengths and tinygrad's BEAM search, in a Generator built from any GPT. The same logits as
lama.generate's plain path, up to float rounding."""
from __future__ import annotations

import sys
import time

import numpy as np
from tinygrad import Device, Tensor, TinyJit, Variable, dtypes, nn
from tinygrad.helpers import Context
from tinygrad.nn.state import get_parameters, get_state_dict

from lama.block import Block
from lama.cli import Parser, atomic_write_json, recorded_command
from lama.generate import Generator, remember
from lama.model import GPT, GPTConfig
from lama.multihead import MultiHeadAttention
from lama.self_attention import causal_mask

def output_layer(model: GPT, x: Tensor) -> Tensor:
    """The tied output layer x (B, T, C) -> logits (B, T, V) = x @ wte.weight.T, for a large
    vocabulary in two products, the first 256 * (V // 256) rows and the rest."""
    W, V = model.wte.weight, model.config.vocab_size               # (V, C)
    cut = V // 256 * 256
    if V < 4096 or cut == V:
        return x @ W.T
    return (x @ W[:cut].T).contiguous().cat((x @ W[cut:].T).contiguous(), dim=-1)


def plain_linear(layer: nn.Linear, x: Tensor) -> Tensor:
    return layer(x)


def one_position_linear(layer: nn.Linear, x: Tensor, pieces: int = 4) -> Tensor:
    """layer(x) for x (B, 1, n_in) -> (B, 1, n_out), as a sum over `pieces` slices of the inputs
    of the sums within each slice: the same numbers up to rounding, and faster kernels on a CPU."""
    n_out, n_in = layer.weight.shape
    if n_in % pieces:
        return layer(x)
    w = layer.weight.reshape(n_out, pieces, n_in // pieces)      # (n_out, pieces, n_in/pieces)
    x = x.reshape(x.shape[0], 1, 1, pieces, n_in // pieces)      # (B, 1, 1, pieces, n_in/pieces)
    y = (x * w).sum(-1).contiguous().sum(-1)                     # (B, 1, n_out)
    return y if layer.bias is None else y + layer.bias


def fast_attention(attn: MultiHeadAttention, x: Tensor, cache: Tensor, start_pos,
                   linear=plain_linear) -> Tensor:
    """lama.generate.cached_attention with c_attn's output stored once and the Linear layers
    applied by linear(layer, x). x (B, T, C) -> (B, T, C)"""
    B, T, C = x.shape
    q, k, v = linear(attn.c_attn, x).contiguous().split(C, dim=-1)      # (B, T, C) each
    q, k, v = attn.split_heads(q), attn.split_heads(k), attn.split_heads(v)  # (B, nh, T, hs)
    keys, values = remember(cache, k, v, start_pos)                      # (B, nh, start_pos+T, hs)
    mask = causal_mask(T, start_pos + T) if T > 1 else None              # (T, start_pos+T)
    y, _ = attn.attend(q, keys, values, mask)                            # (B, nh, T, hs)
    return linear(attn.c_proj, attn.merge_heads(y))                      # (B, T, C)


def fast_block(block: Block, x: Tensor, cache: Tensor, start_pos) -> Tensor:
    """lama.generate.cached_block with the stream stored after each sum; one new position
    (T == 1, a decode step) takes its Linear layers through one_position_linear. -> (B, T, C)"""
    linear = one_position_linear if x.shape[1] == 1 else plain_linear
    a = fast_attention(block.attn, block.ln_1(x).contiguous(), cache, start_pos, linear)
    x = (x + a).contiguous()
    mlp = block.mlp
    h = mlp.activation(linear(mlp.c_fc, block.ln_2(x).contiguous())).contiguous()   # (B, T, 4C)
    return (x + linear(mlp.c_proj, h)).contiguous()


def fast_forward(model: GPT, ids: Tensor, cache: list[Tensor] | None = None, start_pos=0,
                 at=None) -> Tensor:
    """The logits of model for ids (B, T) at positions start_pos.. (B, T, V), through the cache if
    one is given; with at (an index into T, -1 for the last, or a bound Variable), only that
    position's, (B, 1, V), which saves the output layer's work for the others."""
    T = ids.shape[1]
    x = model.wte(ids) + model.wpe.weight[start_pos:start_pos + T]      # (B, T, C)
    for i, block in enumerate(model.h):
        x = block(x) if cache is None else fast_block(block, x, cache[i], start_pos)
    if at is not None:
        at = at + T if isinstance(at, int) and at < 0 else at         # an int or a bound Variable
        x = x[:, at:at + 1]                                            # (B, 1, C)
    return output_layer(model, model.ln_f(x).contiguous())             # (B, T, V)

class FastGenerator(Generator):
    """lama.generate.Generator through fast_forward: the prompt padded to a bucket length (one
    compiled forward pass per bucket), and the decode step searched with tinygrad's BEAM=beam.
    half: decode with half_weights(model), float16 matrices."""

    def __init__(self, model: GPT, cache: bool = True, beam: int | None = None,
                 half: bool = False):
        super().__init__(half_weights(model) if half else model, cache)
        self.beam = beam                          # BEAM for the decode step; None: as set
        self.at = Variable("at", 0, self.n_positions - 1)
        self.windows: dict[int, TinyJit] = {}    # bucket length -> compiled forward pass

    def forward(self, ids: Tensor, start_pos) -> Tensor:
        """ids (1, 1) at position start_pos -> logits (1, 1, V); writes its keys and values."""
        return fast_forward(self.model, ids, self.cache, start_pos, at=-1).realize()

    def window(self, ids: Tensor, at) -> Tensor:
        """ids (1, T) from position 0 -> the logits (1, 1, V) at position at; fills the cache."""
        return fast_forward(self.model, ids, self.cache, 0, at=at).realize()

    def bucket(self, n: int) -> int:
        """The padded length for n tokens: a power of two from 16, at most n_positions."""
        size = 16
        while size < n:
            size *= 2
        return min(size, self.n_positions)

    def prefill(self, ids: list[int]) -> np.ndarray:
        """Run ids from position 0, padded at the end to a bucket length (filling the cache, if
        any) -> the logits (V,) of the next token."""
        n, T = len(ids), self.bucket(len(ids))                 # real and padded lengths
        padded = Tensor([ids + [0] * (T - n)], dtype=dtypes.int32)                 # (1, T)
        window = self.windows.setdefault(T, TinyJit(self.window))
        logits = window(padded, self.at.bind(n - 1))                               # (1, 1, V)
        self.pos = n
        return logits.numpy()[0, -1]

    def decode(self, token: int) -> np.ndarray:
        beam = {} if self.beam is None else {"BEAM": self.beam}
        with Context(**beam):                     # the kernels are searched when compiled
            return super().decode(token)

def half_weights(model: GPT) -> GPT:
    """A GPT whose matrices (wte, wpe and the Linear layers' weights) are model's, stored as
    float16, and whose other parameters (LayerNorms, biases) are model's own float32 tensors."""
    half = GPT(model.config, init=False)          # placeholders, no random numbers drawn
    theirs = get_state_dict(model)
    for name, p in get_state_dict(half).items():
        w = theirs[name]
        p.replace(w.cast(dtypes.float16).contiguous() if w.ndim == 2 else w)
    Tensor.realize(*get_parameters(half))
    return half


def compare_half(model: GPT, prompt: list[int], n: int = 50) -> dict:
    """Greedy decoding of n tokens after prompt with model's float32 weights and with
    half_weights(model). The float16 decoder is fed float32's tokens, so that the logits of every
    step can be compared; then it decodes on its own, and its greedy tokens are compared."""
    full, half = FastGenerator(model), FastGenerator(model, half=True)
    a, b = full.prefill(prompt), half.prefill(prompt)                         # (V,) each
    diff, top, margin, agree, tokens = [], [], [], 0, []
    for i in range(n):
        diff.append(float(np.abs(a - b).max()))
        top.append(float(np.abs(a).max()))
        second, first = np.sort(a)[-2:]
        margin.append(float(first - second))          # how far float32's choice is from the next
        tokens.append(int(np.argmax(a)))
        agree += int(np.argmax(b)) == tokens[-1]
        if i < n - 1:
            a, b = full.decode(tokens[-1]), half.decode(tokens[-1])
    alone = [int(t) for t in half.generate(prompt, n)]
    differ = [i for i, (x, y) in enumerate(zip(tokens, alone)) if x != y]
    return {"max_abs_logit_diff": max(diff), "max_abs_logit": max(top),
            "step_max_abs_logit_diff": diff, "smallest_top2_margin": min(margin),
            "same_argmax_steps": agree, "float32_tokens": tokens, "float16_tokens": alone,
            "same_greedy_tokens": not differ, "first_difference": differ[0] if differ else None}

def time_per_token(config: GPTConfig, positions: list[int], repeats: int = 5) -> dict:
    """Median ms to produce the token after `t` tokens, for each t in positions, with the KV cache
    and without it. Random weights: the time does not depend on their values."""
    Tensor.manual_seed(0)
    model = GPT(config)
    gen = FastGenerator(model, cache=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config.vocab_size, size=max(positions) + 1).tolist()
    result = {"positions": positions, "cache_ms": [], "no_cache_ms": []}
    gen.prefill(ids[:1])
    for p in range(1, 4):                        # the JIT records the decode step on call 2
        gen.decode(ids[p])
    for t in positions:
        gen.pos = t                              # the cache content does not matter for the time
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            gen.decode(ids[t])
            gen.pos = t
            times.append(time.perf_counter() - start)
        result["cache_ms"].append(1e3 * float(np.median(times)))
        x = Tensor([ids[:t]], dtype=dtypes.int32)
        fast_forward(model, x, at=-1).numpy()    # compile this shape first
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fast_forward(model, x, at=-1).numpy()
            times.append(time.perf_counter() - start)
        result["no_cache_ms"].append(1e3 * float(np.median(times)))
        print(f"t={t:5d}  cache {result['cache_ms'][-1]:8.1f} ms   "
              f"no cache {result['no_cache_ms'][-1]:8.1f} ms", flush=True)
    return result


def half_main(argv: list[str]) -> int:
    """python -m lama.fast half: compare_half on GPT-2 and write the result as JSON."""
    from lama.bpe import GPT2Tokenizer
    from lama.generate import load_tokenizer
    from lama.weights import WeightsError, download, load_gpt2
    parser = Parser(prog="python -m lama.fast half", description="Decode greedily with float32 "
                    "and with float16 weights, and compare the logits and the tokens.")
    parser.add_argument("--weights", metavar="PATH", help="a checkpoint in the Hugging Face "
                        "layout (default: GPT-2 small with random weights, seed 0)")
    parser.add_argument("--model", help="OpenAI's weights, e.g. gpt2, downloaded on first use")
    parser.add_argument("-p", "--prompt", default="How can entropy be reversed?")
    parser.add_argument("-n", "--tokens", type=int, default=50, help="(default: %(default)s)")
    parser.add_argument("--out", default="docs/results/half-precision.json",
                        help="where to write the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        path = args.weights or (download(args.model) if args.model else None)
        if path is None:
            Tensor.manual_seed(0)
            model, weights = GPT(GPTConfig()), "GPT-2 small, random weights (seed 0)"
        else:
            model, weights = load_gpt2(path), str(path)
        ids = (load_tokenizer(path) if path else GPT2Tokenizer.load()).encode(args.prompt)
    except (WeightsError, ValueError, OSError) as e:
        parser.error(str(e))
    result = compare_half(model, ids, args.tokens)
    params = get_parameters(model)
    mb = {"float32": sum(p.nbytes() for p in params) / 1e6,
          "float16": sum(p.numel() * 2 if p.ndim == 2 else p.nbytes() for p in params) / 1e6}
    print(f"largest |logit difference| {result['max_abs_logit_diff']:.2e} (largest |logit| "
          f"{result['max_abs_logit']:.2f}); same argmax at {result['same_argmax_steps']} of "
          f"{args.tokens} steps; same greedy tokens: {result['same_greedy_tokens']}")
    result |= {"weights": weights, "prompt": args.prompt, "prompt_ids": ids,
               "tokens": args.tokens, "weights_mb": mb, "device": Device.DEFAULT,
               "command": recorded_command("python -m lama.fast half", argv)}
    atomic_write_json(args.out, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["half"]:
        return half_main(argv[1:])
    parser = Parser(prog="python -m lama.fast", description="Measure the time per generated "
                    "token with and without the KV cache; `python -m lama.fast half --help`: "
                    "float16 weights against float32.")
    parser.add_argument("--out", default="docs/results/kv-cache.json",
                        help="where to write the JSON (default: %(default)s)")
    parser.add_argument("--positions", type=int, nargs="+",
                        default=[16, 64, 128, 256, 384, 512, 768, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    config = GPTConfig(n_embd=256, n_layer=4, n_head=4)
    result = time_per_token(config, args.positions, args.repeats)
    result |= {"config": config.__dict__, "device": Device.DEFAULT,
               "command": recorded_command("python -m lama.fast", argv)}
    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
