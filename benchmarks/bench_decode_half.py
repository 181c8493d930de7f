"""lama's decode step on GPT-2 small (124M, random weights), four ways in one process, alternating
round by round: float32 and float16 weights (half_weights), each with tinygrad's default kernels and
with BEAM=2. Prints the one-time cost of each generator's first decode steps (compilation, and the
kernel search for BEAM), then decode tokens/s per round, medians and ratios to float32's default.

    python benchmarks/bench_decode_half.py [--rounds 3] [--new-tokens 32] [--weights DIR]

The search results go to tinygrad's cache, ~/.cache/tinygrad/cache.db (CACHEDB=path to use
another file; a new file measures the search from scratch).
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--weights", help="a GPT-2 folder in the Hugging Face layout (default: random)")
    args = ap.parse_args()
    from lama.fast import FastGenerator, half_weights
    from lama.weights import load_gpt2
    folder = args.weights
    if folder is None:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
        folder = tempfile.mkdtemp(prefix="bench-half-")
        torch.manual_seed(0)
        GPT2LMHeadModel(GPT2Config()).save_pretrained(folder, safe_serialization=True)
    model = load_gpt2(folder)
    half = half_weights(model)
    prompt = np.random.default_rng(0).integers(0, 50257, 20).tolist()
    gens = {"float32": FastGenerator(model), "float16": FastGenerator(half),
            "float32 BEAM=2": FastGenerator(model, beam=2),
            "float16 BEAM=2": FastGenerator(half, beam=2)}
    for name, g in gens.items():
        g.prefill(prompt)
        start = time.perf_counter()
        for i in range(3):                             # the JIT compiles, then captures the step
            g.decode(100 + i)
        print(f"{name}: first 3 decode steps {time.perf_counter() - start:.1f} s", flush=True)
    rates, tokens = {n: [] for n in gens}, {}
    for r in range(args.rounds):
        for name, g in gens.items():
            g.prefill(prompt)
            out = [7]
            start = time.perf_counter()
            for _ in range(args.new_tokens):
                out.append(int(np.argmax(g.decode(out[-1]))))
            rates[name].append(args.new_tokens / (time.perf_counter() - start))
            tokens[name] = out
            print(f"round {r}: {name:15s} {rates[name][-1]:5.1f} tok/s   "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    base = statistics.median(rates["float32"])
    for name, v in rates.items():
        m = statistics.median(v)
        print(f"{name:15s} median {m:5.1f} tok/s   x{m / base:.2f} of float32's default kernels"
              f"   same greedy tokens as float32: {tokens[name] == tokens['float32']}")


if __name__ == "__main__":
    main()
