"""lama vs PyTorch (transformers' GPT2LMHeadModel, CPU) on one training step of the book's
character-level GPT (4 blocks, 4 heads, 128 channels, batches of 12 x 64, AdamW, gradient clipping).
Both run in this process, alternating round by round, because the machines are shared and noisy;
medians and their ratio are printed.

    python benchmarks/bench_train_step.py [--rounds 5] [--steps 10] [--json out.json]
"""
import argparse
import json
import statistics
import time

import numpy as np

V, T, B = 65, 64, 12
SIZES = dict(n_layer=4, n_head=4, n_embd=128)


def lama_step():
    from tinygrad import Tensor, dtypes
    from tinygrad.nn.state import get_state_dict

    from lama.block import training
    from lama.model import GPT, GPTConfig
    from lama.train import AdamW, make_train_step
    Tensor.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, n_positions=T, **SIZES))
    step = make_train_step(model, AdamW(get_state_dict(model), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1))
    lr = Tensor([1e-3])

    def run(x, y):
        with training():
            loss, norm = step(lr, Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32))
            return loss.item()
    return run


def torch_step():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, bos_token_id=V - 1, eos_token_id=V - 1,
                                       resid_pdrop=0.0, embd_pdrop=0.0,
                                       attn_pdrop=0.0, **SIZES)).train()
    # decay on the matrices only, as lama.train.AdamW does
    groups = [{"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))

    def run(x, y):
        logits = model(torch.from_numpy(x).long()).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).long().reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per framework and round")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    runners = {"lama": lama_step(), "torch": torch_step()}
    batch = lambda: (rng.integers(0, V, (B, T)).astype(np.int32), rng.integers(0, V, (B, T)).astype(np.int32))
    for name, run in runners.items():          # compile (lama: capture the JIT) before timing
        for _ in range(3):
            run(*batch())
    times = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                run(*batch())
            times[name].append((time.perf_counter() - t0) / args.steps)
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1] * 1e3:.0f} ms/step" for n in runners), flush=True)
    med = {n: statistics.median(t) for n, t in times.items()}
    print(f"median ms/step: lama {med['lama'] * 1e3:.0f}, torch {med['torch'] * 1e3:.0f}; "
          f"lama takes {med['lama'] / med['torch']:.1f}x torch's time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ms_per_step": {n: m * 1e3 for n, m in med.items()}, "rounds": times}, f, indent=1)


if __name__ == "__main__":
    main()
