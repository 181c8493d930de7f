"""lama vs Hugging Face transformers (PyTorch, CPU) on GPT-2 small (124M, random weights): prefill of
a 512-token prompt, greedy decode speed with the KV cache, and peak memory. Both run in this process,
alternating round by round, because the machines are shared and noisy; medians and ratios are printed.

    python benchmarks/bench_gpt2.py [--rounds 3] [--new-tokens 32] [--prompt 512] [--beam 2] [--half]

--beam N gives lama's decode step tinygrad's BEAM search (minutes the first time, then cached).
--half adds a third contestant, lama with float16 weights (FastGenerator(half=True)), in the same
alternation.

Peak memory is measured separately, in a fresh subprocess per framework (VmHWM).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_checkpoint(folder: str) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config()).save_pretrained(folder, safe_serialization=True)


def lama_runner(folder, beam=None, half=False):
    from lama.fast import FastGenerator, half_weights
    from lama.weights import load_gpt2
    model = load_gpt2(folder)
    model = half_weights(model) if half else model
    gen = FastGenerator(model, beam=beam)   # one generator: its compiled steps are kept, as in use

    def run(prompt, n):
        t0 = time.perf_counter()
        logits = gen.prefill(prompt)
        t1 = time.perf_counter()
        out = [int(np.argmax(logits))]
        for _ in range(n - 1):
            out.append(int(np.argmax(gen.decode(out[-1]))))
        t2 = time.perf_counter()
        return out, t1 - t0, (n - 1) / (t2 - t1)
    return run


def hf_runner(folder):
    import torch
    from transformers import GPT2LMHeadModel
    model = GPT2LMHeadModel.from_pretrained(folder).eval()

    @torch.no_grad()
    def run(prompt, n):
        t0 = time.perf_counter()
        o = model(torch.tensor([prompt]), use_cache=True)
        t1 = time.perf_counter()
        out = [int(o.logits[0, -1].argmax())]
        past = o.past_key_values
        for _ in range(n - 1):
            o = model(torch.tensor([[out[-1]]]), past_key_values=past, use_cache=True)
            past = o.past_key_values
            out.append(int(o.logits[0, -1].argmax()))
        t2 = time.perf_counter()
        return out, t1 - t0, (n - 1) / (t2 - t1)
    return run


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space, unlike
    ru_maxrss, which on Linux keeps the parent's peak across fork and exec."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # not Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--beam", type=int, default=None, help="BEAM width for lama's decode step")
    ap.add_argument("--half", action="store_true", help="also lama with float16 weights")
    ap.add_argument("--only", choices=["lama", "lama16", "hf"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    prompt = np.random.default_rng(0).integers(0, 50257, args.prompt).tolist()
    if args.only:                                   # a child process: one framework, report peak memory
        run = (hf_runner(args.folder) if args.only == "hf" else
               lama_runner(args.folder, args.beam, half=args.only == "lama16"))
        run(prompt, 4)
        run(prompt, 4)
        print(json.dumps({"peak_rss_mb": peak_rss_mb()}))
        return
    folder = tempfile.mkdtemp(prefix="bench-gpt2-")
    make_checkpoint(folder)
    runners = {"lama": lama_runner(folder, args.beam), "transformers": hf_runner(folder)}
    if args.half:
        runners["lama float16"] = lama_runner(folder, args.beam, half=True)
    for name, run in runners.items():               # warm up: compile, JIT capture, caches
        run(prompt, 4)
        run(prompt, 4)
    results = {name: {"prefill_s": [], "decode_tok_s": []} for name in runners}
    tokens = {}
    for r in range(args.rounds):
        for name, run in runners.items():
            out, prefill, rate = run(prompt, args.new_tokens)
            tokens[name] = out
            results[name]["prefill_s"].append(prefill)
            results[name]["decode_tok_s"].append(rate)
            print(f"round {r}: {name:12s} prefill {prefill:6.3f} s   decode {rate:6.1f} tok/s", flush=True)
    same = tokens["lama"] == tokens["transformers"]
    for name, key in (("lama", "lama"), ("transformers", "hf"), ("lama float16", "lama16")):
        if name not in runners:
            continue
        child = subprocess.run([sys.executable, __file__, "--only", key, "--folder", folder, "--prompt",
                                str(args.prompt)] + (["--beam", str(args.beam)] if args.beam is not None else []),
                               capture_output=True, text=True, check=True)
        results[name]["peak_rss_mb"] = json.loads(child.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    med = {n: {k: statistics.median(v) if isinstance(v, list) else v for k, v in d.items()} for n, d in results.items()}
    print(f"\nGPT-2 124M, random weights, {args.prompt}-token prompt, {args.new_tokens} greedy tokens, "
          f"{args.rounds} rounds (medians), lama's decode BEAM: {args.beam}")
    for name, m in med.items():
        print(f"  {name:12s} prefill {m['prefill_s']:6.3f} s   decode {m['decode_tok_s']:6.1f} tok/s   "
              f"peak RSS {m['peak_rss_mb']:6.0f} MB")
    L, H = med["lama"], med["transformers"]
    print(f"  lama / transformers: decode speed x{L['decode_tok_s'] / H['decode_tok_s']:.2f}, "
          f"prefill time x{L['prefill_s'] / H['prefill_s']:.2f}, peak memory x{L['peak_rss_mb'] / H['peak_rss_mb']:.2f}")
    print(f"  greedy tokens identical: {same}")
    if args.half:
        F = med["lama float16"]
        print(f"  lama float16 / lama float32: decode speed x{F['decode_tok_s'] / L['decode_tok_s']:.2f}, "
              f"prefill time x{F['prefill_s'] / L['prefill_s']:.2f}, "
              f"peak memory x{F['peak_rss_mb'] / L['peak_rss_mb']:.2f}")
        print(f"  lama float16 / transformers: decode speed x{F['decode_tok_s'] / H['decode_tok_s']:.2f}")
        print(f"  float16 greedy tokens identical to float32's: {tokens['lama float16'] == tokens['lama']}")


if __name__ == "__main__":
    main()
