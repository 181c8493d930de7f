"""lama.autograd (numpy) vs tinygrad (lama) vs PyTorch on one training step of the book's
character-level GPT (4 blocks, 4 heads, 128 channels, batches of 12 x 64, AdamW, clipping), all from
the same weights on the same batches. The three run in this process, alternating round by round
(numpy twice: with OpenBLAS on 1 thread and on 2), and the medians and ratios are printed. Then
memory: tracemalloc's peak during one numpy step (numpy reports its buffers to tracemalloc), and
for every framework, in a fresh process of its own, the RSS before and the peak RSS after 5 steps.
Last, a cProfile of numpy steps: the share of time in the matrix products.

    python benchmarks/bench_autograd.py [--rounds 5] [--steps 5] [--json FILE]

--json writes the medians, the memory figures and the profile's shares to FILE as well.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before numpy loads; the rounds switch it

import argparse
import cProfile
import ctypes
import glob
import json
import multiprocessing
import platform
import pstats
import statistics
import sys
import time
import tracemalloc

import numpy as np

V, T, B = 65, 64, 12
SIZES = dict(n_layer=4, n_head=4, n_embd=128, block_size=T, batch_size=B)


def blas_threads(n: int) -> None:
    """Set the number of threads of the OpenBLAS that numpy's wheel ships."""
    (lib,) = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                    "libscipy_openblas*"))
    ctypes.CDLL(lib).scipy_openblas_set_num_threads64_(ctypes.c_int(n))


def tiny_model():
    from lama.shakespeare import ShakespeareConfig, build
    return build(ShakespeareConfig(**SIZES), V)


def numpy_step(model):
    from lama.numpy_gpt import AdamW, NumpyGPT
    twin = NumpyGPT.from_tinygrad(model)
    opt = AdamW(twin.params, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)

    def run(x, y):
        loss = twin.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.clip_grad_norm(1.0)
        opt.step()
        return loss.item()
    return run


def lama_step(model):
    from tinygrad import Tensor, dtypes
    from tinygrad.nn.state import get_state_dict

    from lama.block import training
    from lama.train import AdamW, make_train_step
    step = make_train_step(model, AdamW(get_state_dict(model), lr=1e-3, betas=(0.9, 0.99),
                                        weight_decay=0.1))
    lr = Tensor([1e-3], dtype=dtypes.float32)

    def run(x, y):
        with training():
            loss, norm = step(lr, Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32))
            return loss.item()
    return run


def torch_step(model):
    """The same GPT in PyTorch (transformers' GPT2LMHeadModel), the tinygrad model's weights."""
    import torch
    from tinygrad.nn.state import get_state_dict
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(vocab_size=V, n_positions=T, n_embd=128, n_layer=4, n_head=4,
                     bos_token_id=V - 1, eos_token_id=V - 1, resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0)
    net = GPT2LMHeadModel(cfg).train()
    state = {}
    for name, t in get_state_dict(model).items():
        a = torch.from_numpy(t.numpy().copy())
        if name.endswith(".weight") and any(k in name for k in ("c_attn", "c_proj", "c_fc")):
            a = a.T.contiguous()                       # Conv1D stores (n_in, n_out)
        state["transformer." + name] = a
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all("attn.bias" in k or k == "lm_head.weight" for k in missing)
    # decay on the matrices only, as lama.train.AdamW does
    groups = [{"params": [p for p in net.parameters() if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in net.parameters() if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))

    def run(x, y):
        logits = net(torch.from_numpy(x).long()).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V),
                                                 torch.from_numpy(y).long().reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        return loss.item()
    return run


MAKERS = {"numpy": numpy_step, "tinygrad": lama_step, "torch": torch_step}


def batches(seed=0):
    rng = np.random.default_rng(seed)
    while True:
        yield (rng.integers(0, V, (B, T)).astype(np.int32),
               rng.integers(0, V, (B, T)).astype(np.int32))


def proc_status_mib(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS: now, VmHWM: the peak) in MiB."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def peak_rss(name, steps, queue):
    """In a fresh process: RSS after building the model and 2 warm-up steps, then the peak RSS
    (VmHWM, which starts afresh in a new process, unlike ru_maxrss) after `steps` more."""
    blas_threads(1)
    run = MAKERS[name](tiny_model())
    data = batches(1)
    for _ in range(2):
        run(*next(data))
    before = proc_status_mib("VmRSS")
    for _ in range(steps):
        run(*next(data))
    queue.put((before, proc_status_mib("VmHWM")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per framework and round")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    results = {"command": "python benchmarks/bench_autograd.py " + " ".join(sys.argv[1:]),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                          f"Python {platform.python_version()}"}
    model = tiny_model()
    runners = {name: make(model) for name, make in MAKERS.items()}   # all from the same weights
    runners = {"numpy, 1 BLAS thread": runners["numpy"], "numpy, 2 BLAS threads": runners["numpy"],
               "tinygrad": runners["tinygrad"], "torch": runners["torch"]}
    threads = {"numpy, 1 BLAS thread": 1, "numpy, 2 BLAS threads": 2}
    data = batches()
    first = next(data)
    print("first loss (same weights, same batch): " + ", ".join(
        f"{n} {MAKERS[n](tiny_model())(*first):.5f}" for n in MAKERS), flush=True)
    for name, run in runners.items():          # compile (tinygrad: capture the JIT) before timing
        blas_threads(threads.get(name, 1))
        for _ in range(3):
            run(*next(data))
    times = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            blas_threads(threads.get(name, 1))
            t0 = time.perf_counter()
            for _ in range(args.steps):
                run(*next(data))
            times[name].append((time.perf_counter() - t0) / args.steps)
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1] * 1e3:.0f} ms"
                                             for n in runners), flush=True)
    blas_threads(1)
    med = {n: statistics.median(t) for n, t in times.items()}
    print("median ms/step: " + ", ".join(f"{n} {m * 1e3:.0f}" for n, m in med.items()))
    base = med["numpy, 1 BLAS thread"]
    print("relative to numpy (1 BLAS thread): " + ", ".join(f"{n} {m / base:.2f}x"
                                                            for n, m in med.items()))

    tracemalloc.start()
    runners["numpy, 1 BLAS thread"](*next(data))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"numpy step, tracemalloc peak: {peak / 2**20:.1f} MiB")
    results.update(rounds=args.rounds, steps=args.steps,
                   ms_per_step={n: 1e3 * m for n, m in med.items()},
                   tracemalloc_peak_mib=peak / 2**20, rss_mib={})
    ctx = multiprocessing.get_context("spawn")
    for name in MAKERS:
        queue = ctx.Queue()
        child = ctx.Process(target=peak_rss, args=(name, 5, queue))
        child.start()
        before, after = queue.get()
        child.join()
        results["rss_mib"][name] = {"after_2_steps": before, "peak_after_5_more": after}
        print(f"{name}, own process: RSS {before:.0f} MiB after building and 2 steps, "
              f"peak RSS {after:.0f} MiB after 5 more", flush=True)

    profile = cProfile.Profile()
    run = runners["numpy, 1 BLAS thread"]
    profile.enable()
    for _ in range(args.steps):
        run(*next(data))
    profile.disable()
    stats = pstats.Stats(profile).stats           # (file, line, name) -> (..., tottime, ...)
    total = sum(v[2] for v in stats.values())
    import lama.autograd as ag
    (rule,) = [c for c in ag.matmul.__code__.co_consts if getattr(c, "co_name", "") == "backward"]
    products = {(ag.fold.__code__.co_firstlineno, "fold"),
                (ag.matmul.__code__.co_firstlineno, "matmul"), (rule.co_firstlineno, "backward")}
    # numpy's @ is an operator, not a call: its time is the own time of the function that uses it
    matmul = sum(v[2] for k, v in stats.items()
                 if k[0].endswith("autograd.py") and (k[1], k[2]) in products)
    top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:8]
    print("numpy step, cProfile own time: " + ", ".join(
        f"{os.path.basename(k[0])}:{k[1]}({k[2]}) {v[2] / total:.0%}" for k, v in top))
    print(f"numpy step: {matmul / total:.0%} of the time in the matrix products (own time of "
          "autograd.py's fold, matmul and matmul's backward rule)")
    results["numpy_profile"] = {"matrix_products": matmul / total,
                                "own_time": {f"{os.path.basename(k[0])}:{k[1]}({k[2]})": v[2] / total
                                             for k, v in top}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
