"""Where one decode step of GPT-2 small goes in lama's FastGenerator: the step's median wall time,
then the same step's kernels one by one (tinygrad's DEBUG=2 timings, the JIT without its graph
batching), grouped by kernel name, with their share of the step and the rate at which the whole
step reads the model's weights.

    python benchmarks/profile_decode.py [--weights DIR] [--prompt 20] [--steps 20] [--half]

Without --weights the weights are GPT-2 small's random initial ones (seed 0). Set BEAM=2 in the
environment to profile searched kernels (minutes the first time, then cached).
"""
import argparse
import collections
import contextlib
import io
import re
import statistics
import time

import numpy as np
from tinygrad import Tensor
from tinygrad.helpers import Context
from tinygrad.nn.state import get_parameters

from lama.fast import FastGenerator, half_weights
from lama.model import GPT, GPTConfig
from lama.weights import load_gpt2

LINE = re.compile(r"\*\*\* \S+\s+\d+\s+(\S+)\s.*?tm\s+([\d.]+)(us|ms)/")


def decoder(model, prompt, graph: bool):
    """A FastGenerator whose decode step is compiled (with or without graph batching)."""
    with Context(JIT=1 if graph else 2):
        gen = FastGenerator(model)
        token = int(np.argmax(gen.prefill(prompt)))
        for _ in range(3):                               # run, capture, replay
            token = int(np.argmax(gen.decode(token)))
    return gen, token


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="a GPT-2 checkpoint folder (Hugging Face layout)")
    ap.add_argument("--prompt", type=int, default=20, help="prompt length in tokens")
    ap.add_argument("--steps", type=int, default=20, help="decode steps timed")
    ap.add_argument("--half", action="store_true", help="float16 weights (half_weights)")
    args = ap.parse_args()
    if args.weights:
        model = load_gpt2(args.weights)
    else:
        Tensor.manual_seed(0)
        model = GPT(GPTConfig())
    model = half_weights(model) if args.half else model
    weight_bytes = sum(t.nbytes() for t in get_parameters(model))
    prompt = list(range(1000, 1000 + args.prompt))

    gen, token = decoder(model, prompt, graph=True)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        token = int(np.argmax(gen.decode(token)))
        times.append(time.perf_counter() - start)
    step_ms = 1e3 * statistics.median(times)

    gen, token = decoder(model, prompt, graph=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), Context(DEBUG=2, JIT=2):
        gen.decode(token)
    groups = collections.defaultdict(lambda: [0, 0.0])
    for line in re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines():
        if (m := LINE.match(line)) and m.group(1) != "copy":
            ms = float(m.group(2)) / (1e3 if m.group(3) == "us" else 1)
            groups[m.group(1)][0] += 1
            groups[m.group(1)][1] += ms
    kernels = sum(n for n, _ in groups.values())
    total = sum(ms for _, ms in groups.values())
    print(f"decode step, compiled with graph batching: {step_ms:.1f} ms median of {args.steps} "
          f"({1e3 / step_ms:.1f} tok/s)")
    print(f"the same step kernel by kernel: {kernels} kernels, {total:.1f} ms of kernel time")
    print(f"weights read per step: {weight_bytes / 1e6:.0f} MB, "
          f"{weight_bytes / step_ms / 1e6:.1f} GB/s over the whole step")
    print(f"{'kernel':40s} {'count':>5s} {'ms':>8s} {'share':>6s}")
    for name, (n, ms) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:12]:
        print(f"{name:40s} {n:5d} {ms:8.2f} {ms / total:6.1%}")
    small = [(n, ms) for n, ms in groups.values() if ms / n < 0.1]
    print(f"kernels under 0.1 ms each: {sum(n for n, _ in small)}, "
          f"{sum(ms for _, ms in small):.2f} ms together")


if __name__ == "__main__":
    main()
