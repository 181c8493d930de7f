# Generated from docs/attention-maps.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""Attention maps of lama's models: the weights of every head for one input (collect), pictures of
one head, a layer and all layers (plot_head, plot_heads, plot_grid), the interactive view as data
or a standalone page (to_data, to_html), and the command line:

    python -m lama.viz --model classifier --text "(()())" --out attention.png
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes

from lama.classifier import Encoder
from lama.model import GPT

def gpt_attention(model: GPT, ids: Tensor) -> tuple[Tensor, list[Tensor]]:
    """GPT.__call__, keeping the attention weights: ids (B, T) int -> logits (B, T, vocab_size) and
    a list of n_layer weights (B, n_head, T, T), one per block."""
    B, T = ids.shape
    if T > model.config.n_positions:
        raise ValueError(f"{T} tokens do not fit in the context window of {model.config.n_positions}")
    x = model.wte(ids) + model.wpe.weight[:T]            # (B, T, C)
    weights = []
    for block in model.h:
        x, w = block(x, return_weights=True)             # w (B, n_head, T, T)
        weights.append(w)
    return model.ln_f(x).contiguous() @ model.wte.weight.T, weights   # (B, T, V)


def encoder_attention(model: Encoder, ids: Tensor) -> tuple[Tensor, list[Tensor]]:
    """The classifier with its weights: ids (B, T) -> logits (B, n_classes) and a list of n_layer
    weights (B, n_head, T, T). Padded keys get weight 0."""
    x, weights = model.hidden(ids, return_weights=True)  # (B, T, C)
    return model.head(x[:, 0]), weights                  # the head reads [CLS]

VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "\\r"})


def token_label(text: str) -> str:
    """A token as a label: spaces, line breaks and tabs made visible."""
    return text.translate(VISIBLE) if text else "∅"


@dataclass
class AttentionMaps:
    """The attention weights of every head of a model on one input.
    weights[l, h, i, j] is how much query i attends key j in head h of layer l."""
    tokens: list[str]            # T labels, as shown on the axes
    weights: np.ndarray          # (n_layer, n_head, T, T), each row sums to 1 over its allowed keys
    causal: bool                 # True: query i may attend keys 0..i only
    text: str = ""               # the input, as given
    output: str = ""             # what the model made of it, in a few words

    @property
    def n_layer(self) -> int:
        return self.weights.shape[0]

    @property
    def n_head(self) -> int:
        return self.weights.shape[1]

    def allowed(self) -> np.ndarray:
        """(T, T) bool: which keys each query may attend (the lower triangle for a causal model)."""
        T = len(self.tokens)
        return np.tri(T, dtype=bool) if self.causal else np.ones((T, T), dtype=bool)


def stack(weights: list[Tensor]) -> np.ndarray:
    """A model's per-block weights, batch of one -> (n_layer, n_head, T, T) float32."""
    return np.stack([w.numpy()[0] for w in weights])

def collect(model: GPT | Encoder, text: str, tokenizer=None) -> AttentionMaps:
    """The attention maps of model on text. A GPT needs a tokenizer with encode and decode (a
    lama.data.CharTokenizer or tiktoken's gpt2 encoding); the Encoder reads brackets and adds [CLS]."""
    if not text:
        raise ValueError("the text is empty")
    if isinstance(model, Encoder):
        return _collect_brackets(model, text)
    if tokenizer is None:
        raise ValueError("a GPT needs a tokenizer to turn the text into token ids")
    ids = [int(i) for i in tokenizer.encode(text)]       # CharTokenizer raises on unknown characters
    config = model.config
    if len(ids) > config.n_positions:
        raise ValueError(f"the text has {len(ids)} tokens; the model's context window is {config.n_positions}")
    if max(ids) >= config.vocab_size:
        raise ValueError(f"token id {max(ids)} is outside the model's vocabulary of {config.vocab_size}")
    logits, weights = gpt_attention(model, Tensor([ids], dtype=dtypes.int32))
    p = logits[0, -1].softmax().numpy()                  # (V,): the next token after the text
    best = int(p.argmax())
    return AttentionMaps([token_label(tokenizer.decode([i])) for i in ids], stack(weights), True, text,
                         f"next token: {token_label(tokenizer.decode([best]))} (p = {p[best]:.2f})")


def _collect_brackets(model: Encoder, text: str) -> AttentionMaps:
    from lama.brackets import encode
    if set(text) - set("()"):
        raise ValueError(f"the bracket classifier reads only ( and ), got {sorted(set(text) - set('()'))[0]!r}")
    if len(text) + 1 > model.config.n_positions:
        raise ValueError(f"the text has {len(text)} brackets; the classifier reads at most "
                         f"{model.config.n_positions - 1}")
    ids = Tensor(encode([text], len(text) + 1), dtype=dtypes.int32)   # (1, T): [CLS], then the brackets
    logits, weights = encoder_attention(model, ids)
    p = float(logits.softmax(-1).numpy()[0, 1])
    return AttentionMaps(["[CLS]", *text], stack(weights), False, text, f"p(balanced) = {p:.3f}")

def label_font(cell: float) -> tuple[float, int]:
    """The font size (points) of token labels for cells of `cell` inches, and the step between the
    labels shown (1: every token), so that neighbouring labels never overlap."""
    pitch = 72 * cell                                  # points from one label to the next
    if 0.7 * pitch >= 5.0:
        return min(9.0, 0.7 * pitch), 1
    return 5.0, math.ceil(5.0 / (0.7 * pitch))


def figure_size(maps: AttentionMaps, nrows: int, ncols: int, cell: float) -> tuple[float, float]:
    """Width and height in inches of a figure of nrows x ncols maps of cell-inch cells: the
    panels, the labels on the outer edges, a title per panel and a colour bar."""
    T = len(maps.tokens)
    font, _ = label_font(cell)
    labels = (max(len(t) for t in maps.tokens) * 0.62 * font + 26) / 72   # longest label + axis title
    return ncols * (T * cell + 0.2) + labels + 1.2, nrows * (T * cell + 0.4) + labels + 0.2


def _new_figure(maps: AttentionMaps, nrows: int, ncols: int, cell: float):
    from matplotlib.figure import Figure
    return Figure(figsize=figure_size(maps, nrows, ncols, cell), layout="constrained")

def _draw(ax, maps: AttentionMaps, layer: int, head: int, cell: float, vmax: float,
          xlabels: bool = True, ylabels: bool = True):
    """One head's map in the matplotlib axes ax; returns the image (for a colour bar)."""
    from matplotlib import colormaps
    from matplotlib.patches import Polygon
    T = len(maps.tokens)
    cmap = colormaps["Blues"].with_extremes(bad="white")
    w = np.ma.masked_array(maps.weights[layer, head], mask=~maps.allowed())   # (T, T)
    image = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    if maps.causal and T > 1:                          # the staircase above the diagonal
        corners = [(0.5, -0.5)]
        for i in range(T - 1):
            corners += [(i + 0.5, i + 0.5), (i + 1.5, i + 0.5)]
        corners.append((T - 0.5, -0.5))
        ax.add_patch(Polygon(corners, closed=True, facecolor="0.94", edgecolor="0.7", hatch="///", lw=0))
    font, step = label_font(cell)
    ticks = np.arange(0, T, step)
    ax.set_xticks(ticks, [maps.tokens[t] for t in ticks] if xlabels else [], rotation=90,
                  fontsize=font, family="monospace")
    ax.set_yticks(ticks, [maps.tokens[t] for t in ticks] if ylabels else [], fontsize=font, family="monospace")
    ax.tick_params(length=2, pad=1)
    return image


def plot_head(maps: AttentionMaps, layer: int, head: int, cell: float = 0.22, vmax: float = 1.0):
    """One head as a heatmap, queries down and keys across. Returns a matplotlib Figure."""
    fig = _new_figure(maps, 1, 1, cell)
    ax = fig.add_subplot()
    image = _draw(ax, maps, layer, head, cell, vmax)
    ax.set_title(f"layer {layer}, head {head}", fontsize=10)
    ax.set_xlabel("key: the position attended to")
    ax.set_ylabel("query: the position attending")
    fig.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
    return fig

def plot_heads(maps: AttentionMaps, layer: int | None = None, cell: float = 0.12, vmax: float = 1.0,
               ncols: int = 4, heads: list[tuple[int, int]] | None = None):
    """Every head of one layer, or the (layer, head) pairs in heads, ncols to a row. Returns a
    matplotlib Figure with one panel per head."""
    if heads is None:
        heads, title = [(layer, h) for h in range(maps.n_head)], f"layer {layer}: {maps.n_head} heads"
    else:
        title = ", ".join(f"layer {l} head {h}" for l, h in heads)
    return _panels(maps, heads, min(ncols, len(heads)), cell, vmax, title)


def plot_grid(maps: AttentionMaps, cell: float = 0.06, vmax: float = 1.0):
    """Every head of every layer: one row per layer, one column per head. Returns a Figure."""
    pairs = [(l, h) for l in range(maps.n_layer) for h in range(maps.n_head)]
    return _panels(maps, pairs, maps.n_head, cell, vmax, f"{maps.n_layer} layers x {maps.n_head} heads")


def _panels(maps: AttentionMaps, pairs: list[tuple[int, int]], ncols: int, cell: float, vmax: float, title: str):
    nrows = math.ceil(len(pairs) / ncols)
    fig = _new_figure(maps, nrows, ncols, cell)
    axes = fig.subplots(nrows, ncols, squeeze=False)   # not shared: each panel keeps its own labels
    for k, ax in enumerate(axes.flat):
        if k >= len(pairs):
            ax.set_axis_off()                          # an empty place in the last row
            continue
        layer, head = pairs[k]
        last_row = k + ncols >= len(pairs)
        image = _draw(ax, maps, layer, head, cell, vmax, xlabels=last_row, ylabels=k % ncols == 0)
        ax.set_title(f"L{layer} H{head}", fontsize=8, pad=2)
    fig.colorbar(image, ax=axes, shrink=min(1.0, 3.0 / nrows), label="attention weight")
    fig.suptitle(title, fontsize=10)
    return fig

def plot_query(maps: AttentionMaps, query: int = 0, cell: float = 0.22, vmax: float = 1.0):
    """Where the position `query` attends in every head: one row per (layer, head), keys across.
    Returns a matplotlib Figure."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    L, H, T = maps.n_layer, maps.n_head, len(maps.tokens)
    rows = maps.weights[:, :, query, :].reshape(L * H, T)               # (L*H, T)
    mask = np.broadcast_to(~maps.allowed()[query], rows.shape)
    font, step = label_font(cell)
    labels = (max(len(t) for t in maps.tokens) * 0.62 * font + 26) / 72
    fig = Figure(figsize=(T * cell + 2.4, L * H * cell + labels + 0.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_array(rows, mask), cmap=colormaps["Blues"].with_extremes(bad="0.94"),
                      vmin=0.0, vmax=vmax, interpolation="nearest")
    ticks = np.arange(0, T, step)
    ax.set_xticks(ticks, [maps.tokens[t] for t in ticks], rotation=90, fontsize=font, family="monospace")
    ax.set_yticks(range(L * H), [f"L{l} H{h}" for l in range(L) for h in range(H)], fontsize=min(font, 8))
    for l in range(1, L):
        ax.axhline(l * H - 0.5, color="0.3", lw=0.8)                     # between layers
    ax.set_title(f"where {maps.tokens[query]} (position {query}) attends", fontsize=10)
    ax.set_xlabel("key")
    fig.colorbar(image, ax=ax, shrink=0.9, label="attention weight")
    return fig

def head_scores(weights: np.ndarray) -> dict[str, np.ndarray]:
    """How much each head attends to three fixed places: weights (..., n_layer, n_head, T, T), any
    leading batch axes -> {"previous", "first", "self"}, each (n_layer, n_head): the weight on
    position i-1, on position 0 and on position i, averaged over the queries i = 2..T-1 and the batch."""
    T = weights.shape[-1]
    if T < 3:
        raise ValueError(f"head_scores needs at least 3 positions, got {T}")
    i = np.arange(2, T)
    scores = {"previous": weights[..., i, i - 1], "first": weights[..., i, 0], "self": weights[..., i, i]}
    batch = tuple(range(weights.ndim - 4))
    return {name: s.mean(axis=-1).mean(axis=batch) for name, s in scores.items()}   # (n_layer, n_head)

FORMAT = "lama-attention-1"


def to_data(examples: list[AttentionMaps], model: str, command: str = "") -> dict:
    """The interactive view's data for one model and one or more inputs, JSON-able. weights[l][h][i]
    is query i's row in thousandths: keys 0..i for a causal model, all keys otherwise."""
    L, H = examples[0].weights.shape[:2]
    if any(m.weights.shape[:2] != (L, H) or m.causal != examples[0].causal for m in examples):
        raise ValueError("all examples must come from the same model")
    out = []
    for m in examples:
        w = np.rint(m.weights * 1000).astype(int)                        # (L, H, T, T)
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


def to_html(data: dict, script: Path = SCRIPT) -> str:
    """A standalone page with the interactive view of data (from to_data): script and data inline."""
    import html
    if not Path(script).is_file():
        raise FileNotFoundError(f"{script}: the view's script is missing; reinstall lama")
    payload = compact(data).replace("</", "<\\/")                       # cannot close the <script>
    title = html.escape(f"Attention: {data['model']}")
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<style>body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; "
            "padding: 0 1em; }</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n<p>Made by <code>{html.escape(data.get('command') or 'lama.viz')}</code></p>\n"
            f'<div class="lama-attention">\n<script type="application/json">{payload}</script>\n</div>\n'
            f"<script>\n{Path(script).read_text(encoding='utf-8')}\n</script>\n</body>\n</html>\n")

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
MODELS = ("shakespeare", "classifier", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
PICTURES = (".png", ".svg", ".pdf")
SUFFIXES = PICTURES + (".html", ".json")


def gpt_tokenizer(config_path: Path, model: GPT):
    """The tokenizer of a GPT checkpoint: characters when config.json says so, else GPT-2's BPE."""
    spec = json.loads(config_path.read_text(encoding="utf-8")).get("tokenizer") if config_path.is_file() else None
    if spec is not None:
        from lama.data import CharTokenizer
        if not isinstance(spec, dict) or spec.get("kind") != "char" or not isinstance(spec.get("chars"), str):
            raise ValueError(f'{config_path}: "tokenizer" must be {{"kind": "char", "chars": "..."}}')
        return CharTokenizer(spec["chars"])
    import tiktoken
    try:
        enc = tiktoken.get_encoding("gpt2")
    except Exception as e:          # tiktoken downloads its files once; offline, point TIKTOKEN_CACHE_DIR at them
        raise ValueError(f"GPT-2's tokenizer is not available ({type(e).__name__}); set TIKTOKEN_CACHE_DIR "
                         "to a folder with tiktoken's cached files") from None
    if model.config.vocab_size < enc.n_vocab:
        raise ValueError(f"the model has {model.config.vocab_size} tokens, fewer than GPT-2's {enc.n_vocab}, "
                         'and its config.json names no "tokenizer"')
    return enc


def load(name: str, weights: str | None = None):
    """(model, tokenizer, description) for a model name of MODELS, or a checkpoint path (weights)."""
    from lama.classifier import load_model
    from lama.weights import download, load_gpt2, read_safetensors_header
    if weights is not None:
        path = Path(weights)
        if path.suffix == ".safetensors" and "head.weight" in read_safetensors_header(path):
            return load_model(path), None, f"the classifier {path}"
        folder, description = (path if path.is_dir() else path.parent), str(path)
    elif name in ("classifier", "shakespeare"):
        file = RESULTS / ("classifier.safetensors" if name == "classifier" else "shakespeare/model.safetensors")
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: the book's trained models come with its source "
                                    "checkout (docs/results/); pass --weights PATH to use a copy")
        if name == "classifier":
            return load_model(file), None, "the bracket classifier"
        folder, description = file.parent, "the character-level Shakespeare GPT"
    elif name in MODELS:
        folder, description = download(name), f"OpenAI's {name}"
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}, or pass --weights PATH")
    model = load_gpt2(path if weights is not None else folder)
    return model, gpt_tokenizer(folder / "config.json", model), description

class OneLineErrors(argparse.ArgumentParser):
    def error(self, message):  # a user mistake: one line and exit status 2, no usage text
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def natural(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = OneLineErrors(prog="python -m lama.viz", description="Draw the attention weights of a lama model on "
                      "a text: a picture, an interactive page, or the page's data, chosen by --out's suffix.")
    p.add_argument("--model", default="shakespeare", help=f"one of {', '.join(MODELS)} (default: shakespeare)")
    p.add_argument("--weights", metavar="PATH", help="a checkpoint instead: a GPT-2-layout folder or "
                   ".safetensors file, or a classifier saved by lama.classifier")
    p.add_argument("--text", action="append", required=True, help="the input; repeat for several "
                   "(.html and .json only); '-' reads it from stdin")
    p.add_argument("--out", required=True, help="attention.png/.svg/.pdf (picture), .html (interactive page) "
                   "or .json (the page's data)")
    p.add_argument("--layer", type=natural, help="pictures: only this layer (counting from 0)")
    p.add_argument("--head", type=natural, help="pictures: only this head of --layer")
    return p


def fail(message: str) -> int:
    print(f"python -m lama.viz: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        return fail(f"--out {out}: the name must end in one of {', '.join(SUFFIXES)}")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        return fail(f"--out {out}: cannot write into {out.parent}/ (no such folder, or not writable)")
    picture = out.suffix.lower() in PICTURES
    texts = [sys.stdin.read() if t == "-" else t for t in args.text]
    if any(not t for t in texts):
        return fail("a --text is empty; give the text whose attention to show")
    if picture and len(texts) > 1:
        return fail(f"a picture shows one text, got {len(texts)}; write .html or .json for several")
    if not picture and (args.layer is not None or args.head is not None):
        return fail("--layer and --head choose what a picture shows; the .html and .json have every head")
    if args.head is not None and args.layer is None:
        return fail("--head needs --layer")
    try:
        model, tokenizer, description = load(args.model, args.weights)
        maps = [collect(model, t, tokenizer) for t in texts]
    except (ValueError, OSError) as e:              # WeightsError is a ValueError
        return fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    L, H = maps[0].n_layer, maps[0].n_head
    if args.layer is not None and args.layer >= L:
        return fail(f"--layer {args.layer}: the model has layers 0..{L - 1}")
    if args.head is not None and args.head >= H:
        return fail(f"--head {args.head}: the model has heads 0..{H - 1}")
    command = "python -m lama.viz " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if picture:
        if args.head is not None:
            fig = plot_head(maps[0], args.layer, args.head)
        elif args.layer is not None:
            fig = plot_heads(maps[0], args.layer)
        else:
            fig = plot_grid(maps[0])
    else:
        data = to_data(maps, description, command)
        try:
            text = to_html(data) if out.suffix.lower() == ".html" else compact(data) + "\n"
        except FileNotFoundError as e:
            return fail(str(e))
    try:
        if picture:
            fig.savefig(out, dpi=120)
        else:
            out.write_text(text, encoding="utf-8")
    except OSError as e:
        return fail(f"--out {out}: {e.strerror or e}")
    print(f"{out}: {description}, {L} layers x {H} heads, on {', '.join(str(len(m.tokens)) for m in maps)} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
