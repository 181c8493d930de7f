# Generated from docs/attention-view.md by tools/tangle.py. Do not edit: change the chapter.
"""The interactive view of lama.viz's attention maps: its data (to_data), a standalone page with
the view's script and data inlined (to_html), and the command line:

    python -m lama.viz --model classifier --text "(()())" --out attention.html
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path

import numpy as np

from lama.cli import Parser, atomic_save, atomic_write, fail, recorded_command
from lama.viz import AttentionMaps, collect, plot_grid, plot_head, plot_heads

FORMAT = "lama-attention-1"


def to_data(examples: list[AttentionMaps], model: str, command: str = "") -> dict:
    """The interactive view's data for one model and one or more inputs, JSON-able.
    weights[l][h][i] is query i's row in thousandths: keys 0..i for a causal model, else all."""
    L, H = examples[0].weights.shape[:2]
    if any(m.weights.shape[:2] != (L, H) or m.causal != examples[0].causal for m in examples):
        raise ValueError("all examples must come from the same model")
    out = []
    for m in examples:
        w = np.rint(m.weights * 1000).astype(int)                        # (L, nh, T, T)
        T = len(m.tokens)
        rows = [[[w[l, h, i, :(i + 1 if m.causal else T)].tolist() for i in range(T)]
                 for h in range(H)] for l in range(L)]
        out.append({"text": m.text, "tokens": m.tokens, "output": m.output, "weights": rows})
    return {"format": FORMAT, "model": model, "command": command, "n_layer": L, "n_head": H,
            "causal": examples[0].causal, "examples": out}


def compact(data: dict) -> str:
    """JSON without spaces: most of the view's data is small numbers and commas."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

# The view's script, a file of the package (exported by this chapter, below).
SCRIPT = Path(__file__).with_name("attention_view.js")
STYLE = ("body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; "
         "padding: 0 1em; }")


def to_html(data: dict, script: Path = SCRIPT) -> str:
    """A standalone page with the interactive view of data (from to_data): script and data
    inline, so that it needs nothing else."""
    if not Path(script).is_file():
        raise FileNotFoundError(f"{script}: the view's script is missing; reinstall lama")
    payload = compact(data).replace("</", "<\\/")              # cannot close the <script>
    title = html.escape(f"Attention: {data['model']}")
    command = html.escape(data.get("command") or "lama.viz")
    return "\n".join([
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{title}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{STYLE}</style>", "</head>", "<body>",
        f"<h1>{title}</h1>", f"<p>Made by <code>{command}</code></p>",
        '<div class="lama-attention">',
        f'<script type="application/json">{payload}</script>', "</div>",
        f"<script>\n{Path(script).read_text(encoding='utf-8')}\n</script>",
        "</body>", "</html>", ""])

PROG = "python -m lama.viz"
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
MODELS = ("shakespeare", "classifier", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
PICTURES = (".png", ".svg", ".pdf")
SUFFIXES = PICTURES + (".html", ".json")


def load(name: str, weights: str | None = None):
    """(model, tokenizer, description) for a name of MODELS, or a checkpoint path (weights)."""
    from lama.classifier import load_model
    from lama.generate import load_tokenizer
    from lama.weights import download, load_gpt2, read_safetensors_header
    if weights is not None:
        path = Path(weights)
        if path.suffix == ".safetensors" and "head.weight" in read_safetensors_header(path):
            return load_model(path), None, f"the classifier {path}"
        folder, description = (path if path.is_dir() else path.parent), str(path)
    elif name in ("classifier", "shakespeare"):
        file = RESULTS / ("classifier.safetensors" if name == "classifier"
                          else "shakespeare/model.safetensors")
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: the book's trained models come with its "
                                    "source checkout (docs/results/); pass --weights PATH")
        if name == "classifier":
            return load_model(file), None, "the bracket classifier"
        folder, description = file.parent, "the character-level Shakespeare GPT"
    elif name in MODELS:
        folder, description = download(name), f"OpenAI's {name}"
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}, "
                         "or pass --weights PATH")
    model = load_gpt2(path if weights is not None else folder)
    return model, load_tokenizer(folder), description

def natural(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def parser() -> Parser:
    p = Parser(prog=PROG, description="Draw the attention weights of a lama model on a text: a "
               "picture, an interactive page, or the page's data, chosen by --out's suffix.")
    p.add_argument("--model", default="shakespeare",
                   help=f"one of {', '.join(MODELS)} (default: shakespeare)")
    p.add_argument("--weights", metavar="PATH", help="a checkpoint instead: a GPT-2-layout "
                   "folder or .safetensors file, or a classifier saved by lama.classifier")
    p.add_argument("--text", action="append", required=True, help="the input; repeat for "
                   "several (.html and .json only); '-' reads it from stdin")
    p.add_argument("--out", required=True, help="attention.png/.svg/.pdf (picture), .html "
                   "(interactive page) or .json (the page's data)")
    p.add_argument("--layer", type=natural, help="pictures: only this layer (counting from 0)")
    p.add_argument("--head", type=natural, help="pictures: only this head of --layer")
    return p


def check(args, out: Path, texts: list[str]) -> str | None:
    """What is wrong with the command's input before any model is loaded, or None."""
    picture = out.suffix.lower() in PICTURES
    if out.suffix.lower() not in SUFFIXES:
        return f"--out {out}: the name must end in one of {', '.join(SUFFIXES)}"
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        return f"--out {out}: cannot write into {out.parent}/ (no such folder, or not writable)"
    if any(not t for t in texts):
        return "a --text is empty; give the text whose attention to show"
    if picture and len(texts) > 1:
        return f"a picture shows one text, got {len(texts)}; write .html or .json for several"
    if not picture and (args.layer is not None or args.head is not None):
        return "--layer and --head choose what a picture shows; .html and .json have every head"
    if args.head is not None and args.layer is None:
        return "--head needs --layer"
    return None

def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    texts = [sys.stdin.read() if t == "-" else t for t in args.text]
    if (problem := check(args, out, texts)) is not None:
        return fail(PROG, problem)
    try:
        model, tokenizer, description = load(args.model, args.weights)
        maps = [collect(model, t, tokenizer) for t in texts]
    except (ValueError, OSError) as e:                    # WeightsError is a ValueError
        return fail(PROG, str(e).splitlines()[0] if str(e) else type(e).__name__)
    L, H = maps[0].n_layer, maps[0].n_head
    if args.layer is not None and args.layer >= L:
        return fail(PROG, f"--layer {args.layer}: the model has layers 0..{L - 1}")
    if args.head is not None and args.head >= H:
        return fail(PROG, f"--head {args.head}: the model has heads 0..{H - 1}")
    suffix = out.suffix.lower()
    try:
        if suffix in PICTURES:
            if args.head is not None:
                fig = plot_head(maps[0], args.layer, args.head)
            elif args.layer is not None:
                fig = plot_heads(maps[0], args.layer)
            else:
                fig = plot_grid(maps[0])
            atomic_save(out, lambda tmp: fig.savefig(tmp, dpi=120, format=suffix[1:]))
        else:
            data = to_data(maps, description, recorded_command(PROG, argv))
            atomic_write(out, to_html(data) if suffix == ".html" else compact(data) + "\n")
    except OSError as e:                                  # the script missing, or a full disk
        return fail(PROG, f"--out {out}: {e.strerror or e}")
    tokens = ", ".join(str(len(m.tokens)) for m in maps)
    print(f"{out}: {description}, {L} layers x {H} heads, on {tokens} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
