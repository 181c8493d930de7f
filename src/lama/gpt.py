# Generated from docs/fast.md by tools/tangle.py. Do not edit: change the chapter.
"""python -m lama.gpt: run GPT-2 (OpenAI's weights, or a local checkpoint) on a prompt and stream
the continuation to stdout."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from lama.cli import Parser, fail
from lama.model import PRESETS

PROG = "python -m lama.gpt"


def positive(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def parser() -> Parser:
    p = Parser(prog=PROG, description="Continue a prompt with GPT-2, using lama's own model "
               "code. The prompt and its continuation go to stdout, progress to stderr.")
    p.add_argument("-p", "--prompt", required=True,
                   help="the text to continue; '-' reads it from stdin")
    p.add_argument("-n", "--max-new-tokens", type=positive(int), default=50,
                   help="tokens to generate (default: 50)")
    p.add_argument("--temperature", type=positive(float), default=0.8,
                   help="0 is greedy (default: 0.8)")
    p.add_argument("--top-k", type=positive(int), default=200,
                   help="sample among the k most likely tokens; 0: all (default: 200)")
    p.add_argument("--top-p", type=float, default=1.0,
                   help="nucleus sampling, in (0, 1] (default: 1, off)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed: the same seed gives the same text")
    p.add_argument("--model", default="gpt2",
                   help=f"one of {', '.join(PRESETS)}; downloaded on first use (default: gpt2)")
    p.add_argument("--weights", metavar="PATH", help="a local checkpoint: a directory with "
                   "config.json + model.safetensors, or a .safetensors file")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute the whole sequence for every token (slow)")
    p.add_argument("--beam", type=positive(int), default=None, metavar="N",
                   help="search N-wide for faster decode kernels (tinygrad's BEAM): minutes on "
                        "first use, then cached in ~/.cache/tinygrad (default: tinygrad's BEAM "
                        "setting, off)")
    p.add_argument("--half", action="store_true",
                   help="store the weights as float16: half the memory; the computation stays "
                        "float32")
    p.add_argument("--device",
                   help="tinygrad device, e.g. CPU or CUDA (default: tinygrad's choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.model not in PRESETS:
        return fail(PROG, f"unknown model {args.model!r}; choose one of {', '.join(PRESETS)}")
    if not 0 < args.top_p <= 1:
        return fail(PROG, f"--top-p must be in (0, 1], got {args.top_p}")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt:
        return fail(PROG, "the prompt is empty; give some text to continue")
    if not args.device:
        return continue_prompt(args, prompt)
    from tinygrad import Device
    from tinygrad.helpers import Context
    try:
        device = Context(DEV=args.device)         # tinygrad's device for everything inside `with`
        with device:
            Device[Device.DEFAULT]                # fails now if the device is not usable
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return fail(PROG, f"device {args.device!r} is not usable: {reason}")
    with device:
        return continue_prompt(args, prompt)


def continue_prompt(args: argparse.Namespace, prompt: str) -> int:
    """Load the model, then stream the prompt and its continuation to stdout -> exit status."""
    from lama.fast import FastGenerator, half_weights
    from lama.generate import load_tokenizer
    from lama.weights import WeightsError, download, load_gpt2
    try:
        start = time.perf_counter()
        path = args.weights if args.weights else download(args.model)
        print(f"loading {path} ...", file=sys.stderr, flush=True)
        model = load_gpt2(path)
    except WeightsError as e:
        return fail(PROG, str(e))
    config = model.config
    print(f"loaded {model.num_params() / 1e6:.0f}M parameters in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    try:
        tokenizer = load_tokenizer(path)
        ids = tokenizer.encode(prompt)
    except ValueError as e:
        return fail(PROG, str(e))
    if config.vocab_size < tokenizer.n_vocab:
        return fail(PROG, f"the model has {config.vocab_size} tokens, fewer than its tokenizer's "
                          f"{tokenizer.n_vocab}")
    if len(ids) >= config.n_positions:
        return fail(PROG, f"the prompt has {len(ids)} tokens; this model's context window is "
                          f"{config.n_positions}")

    if args.half:
        model = half_weights(model)                 # the float32 weights are freed
    gen = FastGenerator(model, cache=not args.no_cache, beam=args.beam)
    tokens = gen.generate(ids, args.max_new_tokens, args.temperature, args.top_k or None,
                          args.top_p, args.seed, vocab=tokenizer.n_vocab)
    out, n, first, pending = sys.stdout, 0, None, []
    out.write(prompt)
    out.flush()
    start = time.perf_counter()
    # Ctrl-C from here on finishes the token being computed, then stops: an exception raised in
    # the middle of a kernel could leave tinygrad's CPU threads waiting for each other.
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    for token in tokens:
        pending.append(token)
        text = tokenizer.decode(pending)
        if not text.endswith("\ufffd"):                # hold back an unfinished character
            out.write(text)
            out.flush()
            pending = []
        n += 1
        first = first or time.perf_counter()
        if stop:
            out.write(tokenizer.decode(pending))
            out.flush()
            print(f"\ninterrupted after {n} tokens", file=sys.stderr)
            return 130
    out.write(tokenizer.decode(pending))
    out.flush()
    end = time.perf_counter()
    if n:
        rate = f", then {(n - 1) / (end - first):.1f} tokens/s" if n > 1 else ""
        print(f"\n{n} tokens in {end - start:.2f} s (prompt of {len(ids)} tokens and first token "
              f"{first - start:.2f} s{rate})", file=sys.stderr)
    return 0


def run() -> int:
    try:
        return main()
    except KeyboardInterrupt:                               # during loading: nothing generated yet
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                                 # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(run())
