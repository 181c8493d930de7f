"""How fast this machine streams float32 weights from memory: the ceiling on GPT-2 decode, which
reads every weight once per token. PyTorch with one thread and with all of them, numpy, and tinygrad
(which runs each CPU kernel on the calling thread, so one core), each reading the same 512 MiB twice:
a sum of all of it, and a matrix-vector product with it as the matrix. Alternating rounds in one
process; prints medians in GB/s and what they mean in GPT-2 small tokens per second.

    python benchmarks/bench_memory.py [--rounds 5] [--mb 512]

Set BEAM=2 in the environment for tinygrad's kernels after its search (a minute the first time).
"""
import argparse
import statistics
import time

import numpy as np

GPT2_SMALL_BYTES = 124_439_808 * 4                  # the float32 weights one decode step reads


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=int, default=512, help="size of the array, far beyond the CPU's caches")
    args = ap.parse_args()

    import torch
    from tinygrad import Device, Tensor, TinyJit

    cols = 2048
    rows = args.mb * 2**20 // (4 * cols)
    a = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)
    v = np.ones(cols, dtype=np.float32)
    ta, tv = torch.from_numpy(a), torch.from_numpy(v)
    ga, gv = Tensor(a).realize(), Tensor(v).realize()
    threads = torch.get_num_threads()

    def tinygrad_case(fn):
        jitted = TinyJit(lambda: fn().realize())
        return lambda: (jitted(), Device[ga.device].synchronize())

    cases = {                                       # name: (torch's thread count, what to time)
        "numpy sum": (threads, lambda: a.sum()),
        "numpy matvec": (threads, lambda: a @ v),
        "torch sum, 1 thread": (1, lambda: ta.sum()),
        f"torch sum, {threads} threads": (threads, lambda: ta.sum()),
        "torch matvec, 1 thread": (1, lambda: ta @ tv),
        f"torch matvec, {threads} threads": (threads, lambda: ta @ tv),
        "tinygrad sum": (threads, tinygrad_case(lambda: ga.sum())),
        "tinygrad matvec": (threads, tinygrad_case(lambda: ga @ gv)),
    }
    for n, fn in cases.values():                    # compile, capture the JITs, warm the caches
        torch.set_num_threads(n)
        for _ in range(3):
            fn()
    times = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (n, fn) in cases.items():
            torch.set_num_threads(n)                # outside the timed calls
            for _ in range(3):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    print(f"{a.nbytes / 2**20:.0f} MiB of float32, medians of {3 * args.rounds}:")
    for name, ts in times.items():
        gbs = a.nbytes / statistics.median(ts) / 1e9
        print(f"  {name:28s} {gbs:5.1f} GB/s   = {gbs * 1e9 / GPT2_SMALL_BYTES:5.1f} GPT-2 small tokens/s at most")


if __name__ == "__main__":
    main()
