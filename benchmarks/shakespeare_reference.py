"""The book's character-level Shakespeare run, trained by PyTorch (transformers' GPT2LMHeadModel, CPU)
instead of lama: the same settings (lama.shakespeare.ShakespeareConfig), the same training batches in
the same order, the same learning-rate schedule, AdamW with weight decay on the matrices only, the
same gradient clipping and the same evaluation batches. It answers two questions about lama's run:
does lama learn as PyTorch does from the same start, and how much does the final loss move with the
random initial weights alone.

    python benchmarks/shakespeare_reference.py --init lama             # lama's initial weights
    python benchmarks/shakespeare_reference.py --init torch --seed 1   # transformers' own draw
    python benchmarks/shakespeare_reference.py --init torch --no-bias  # biases held at zero
    python benchmarks/shakespeare_reference.py --init torch --wpe-std 0.01   # lama's position embeddings

--json FILE appends one line with the settings, the evaluations and the time of the training steps
(evaluations not counted). --seed draws the initial weights only: the batches are always cfg.seed's.
"""
import argparse
import json
import math
import sys
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", choices=("lama", "torch"), default="lama",
                    help="lama: the initial weights of lama.shakespeare.build; torch: transformers' own, drawn with --seed")
    ap.add_argument("--seed", type=int, default=None,
                    help="draws torch's initial weights (--init torch; default 1337); the batches stay the same")
    ap.add_argument("--wpe-std", type=float, default=None,
                    help="std of the position embeddings' initial draw (--init torch): transformers' 0.02, lama's 0.01")
    ap.add_argument("--no-bias", action="store_true", help="biases zero and not trained (the GPT without biases)")
    ap.add_argument("--steps", type=int, default=None, help="override the run's 2,000 steps")
    ap.add_argument("--json", help="append the result to this file (one JSON object per line)")
    args = ap.parse_args()
    if args.init == "lama" and (args.seed is not None or args.wpe_std is not None):
        ap.error("--seed and --wpe-std choose a torch initialisation; --init lama starts from lama's weights")
    args.seed = 1337 if args.seed is None else args.seed
    args.wpe_std = 0.02 if args.wpe_std is None else args.wpe_std

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging
    from lama.data import CharTokenizer, get_batch, split, tiny_shakespeare
    from lama.shakespeare import ShakespeareConfig, build
    from lama.train import cosine_lr
    from lama.train import evaluate as lama_evaluate
    from lama.weights import save_gpt2
    logging.set_verbosity_error()

    cfg = ShakespeareConfig(**({} if args.steps is None else {"steps": args.steps}))
    text = tiny_shakespeare()
    tokenizer = CharTokenizer.from_text(text)
    data = dict(zip(("train", "val"), split(tokenizer.encode(text))))
    V, B, T = tokenizer.vocab_size, cfg.batch_size, cfg.block_size

    if args.init == "lama":                      # lama's start, through the Hugging Face layout
        with tempfile.TemporaryDirectory() as tmp:
            save_gpt2(build(cfg, V), tmp)
            model = GPT2LMHeadModel.from_pretrained(tmp, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    else:
        torch.manual_seed(args.seed)
        model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_positions=T, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
                                           n_head=cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                           bos_token_id=None, eos_token_id=None))
        with torch.no_grad():                    # drawn after the rest, so the other weights stay the seed's
            model.transformer.wpe.weight.normal_(0.0, args.wpe_std)
    model.train()
    if args.no_bias:
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.data.zero_()
                p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, cfg.beta2))

    def loss_of(x, y):
        logits = model(torch.from_numpy(x).long()).logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).long().reshape(-1))

    def evaluate(name):                          # lama's evaluation, on the same batches
        model.eval()
        with torch.no_grad():
            loss = lama_evaluate(loss_of, lambda split, rng: get_batch(data[split], B, T, rng), name,
                                 cfg.eval_batches, cfg.seed)
        model.train()
        return loss

    history, rng, elapsed = [], np.random.default_rng(cfg.seed), 0.0
    for step in range(cfg.steps + 1):
        if step % cfg.eval_interval == 0 or step == cfg.steps:
            history.append({"step": step, "train_loss": evaluate("train"), "val_loss": evaluate("val")})
            print(f"step {step}: train loss {history[-1]['train_loss']:.4f}, val loss {history[-1]['val_loss']:.4f}"
                  f" ({elapsed:.0f} s)", file=sys.stderr, flush=True)
        if step == cfg.steps:
            break
        t = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, cfg.lr, cfg.min_lr, cfg.warmup_steps, cfg.steps)
        loss = loss_of(*get_batch(data["train"], B, T, rng))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if not math.isfinite(loss.item()):
            sys.exit(f"diverged at step {step}")
        elapsed += time.perf_counter() - t

    val = data["val"]                            # the whole validation split, as the page measures lama's
    n = (len(val) - 1) // T * T // (B * T) * (B * T)
    model.eval()
    with torch.no_grad():
        whole = float(np.mean([loss_of(x, y).item() for x, y in
                               zip(val[:n].reshape(-1, B, T), val[1:n + 1].reshape(-1, B, T))]))
    result = {"init": args.init, "seed": args.seed if args.init == "torch" else cfg.seed, "bias": not args.no_bias,
              "wpe_std": args.wpe_std if args.init == "torch" else 0.01,   # lama.embeddings draws wpe with 0.01
              "steps": cfg.steps, "history": history, "val_loss_whole_split": whole, "train_s": elapsed,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(f"val loss {history[-1]['val_loss']:.4f} ({cfg.eval_batches} batches), {whole:.4f} (whole split); "
          f"{elapsed:.0f} s of training steps")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
