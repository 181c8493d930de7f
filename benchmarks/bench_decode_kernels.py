"""The kernels of one GPT-2 small decode step, formulation against formulation (tinygrad, one
process, alternating): the tied output layer as one product over 50,257 rows or in two pieces
(lama.fast.output_layer), and the Linear layers of one position as tinygrad's plain product or as
lama.fast.one_position_linear. Random weights; 12 layers' worth of each so that the weights do not
stay in the CPU's cache. Prints medians in ms and the ratios.

    python benchmarks/bench_decode_kernels.py [--repeats 20]

Set BEAM=2 in the environment to compare after tinygrad's kernel search (minutes the first time).
"""
import argparse
import statistics
import time

from tinygrad import Tensor, TinyJit, nn

from lama.fast import one_position_linear, output_layer
from lama.model import GPT, GPTConfig


def timed(fn, x, repeats):
    """Median ms of a TinyJit-compiled fn(x) that returns a list of tensors."""
    step = TinyJit(lambda x: [t.realize() for t in fn(x)])
    for _ in range(3):                               # run, capture, replay
        step(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    Tensor.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1))                # the output layer is GPT-2 small's: (50257, 768)
    x = Tensor.randn(1, 1, 768).realize()
    W = model.wte.weight
    rows = {"one product": lambda x: [x @ W.T],
            "two pieces, fused (lazy cat)": lambda x: [(x @ W[:50176].T).cat(x @ W[50176:].T, dim=-1)],
            "two pieces, output_layer": lambda x: [output_layer(model, x)]}
    print("output layer, (1, 768) @ (768, 50257):")
    base = None
    for name, fn in rows.items():
        ms = timed(fn, x, args.repeats)
        base = base or ms
        print(f"  {name:30s} {ms:7.1f} ms   x{base / ms:.2f}")
    for n_in, n_out, what in ((3072, 768, "mlp.c_proj"), (768, 768, "attn.c_proj"), (768, 3072, "mlp.c_fc"),
                              (768, 2304, "attn.c_attn")):
        layers = [nn.Linear(n_in, n_out) for _ in range(12)]
        for layer in layers:
            layer.weight.realize(), layer.bias.realize()
        x = Tensor.randn(1, 1, n_in).realize()
        plain = timed(lambda x: [layer(x).contiguous() for layer in layers], x, args.repeats)
        split = timed(lambda x: [one_position_linear(layer, x) for layer in layers], x, args.repeats)
        print(f"{what:12s} {n_in:4d} -> {n_out:4d}, 12 layers: plain {plain:6.1f} ms   one_position_linear "
              f"{split:6.1f} ms   x{plain / split:.2f}")


if __name__ == "__main__":
    main()
