# Generated from docs/attention-maps.md by tools/tangle.py. Do not edit: change the chapter.
"""Attention maps of lama's models: the weights of every head for one input (collect), pictures
of one head, a layer, all layers and one query (plot_head, plot_heads, plot_grid, plot_query), and
what heads attend to, measured (head_scores). The command line is lama.viewer's:

    python -m lama.viz --model classifier --text "(()())" --out attention.png
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from tinygrad import Tensor, dtypes

from lama.classifier import Encoder
from lama.model import GPT

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
        """(T, T) bool: which keys each query may attend (the lower triangle if causal)."""
        T = len(self.tokens)
        return np.tri(T, dtype=bool) if self.causal else np.ones((T, T), dtype=bool)


def stack(weights: list[Tensor]) -> np.ndarray:
    """A model's per-block weights, batch of one -> (n_layer, n_head, T, T) float32."""
    return np.stack([w.numpy()[0] for w in weights])

def collect(model: GPT | Encoder, text: str, tokenizer=None) -> AttentionMaps:
    """The attention maps of model on text. A GPT needs a tokenizer with encode and decode
    (lama.generate.load_tokenizer); the Encoder reads brackets and puts [CLS] in front."""
    if not text:
        raise ValueError("the text is empty")
    if isinstance(model, Encoder):
        return _collect_brackets(model, text)
    if tokenizer is None:
        raise ValueError("a GPT needs a tokenizer to turn the text into token ids")
    ids = [int(i) for i in tokenizer.encode(text)]   # CharTokenizer raises on unknown characters
    n_positions, vocab_size = model.config.n_positions, model.config.vocab_size
    if len(ids) > n_positions:
        raise ValueError(f"the text has {len(ids)} tokens; the model's context window is "
                         f"{n_positions}")
    if max(ids) >= vocab_size:
        raise ValueError(f"token id {max(ids)} is outside the model's vocabulary of {vocab_size}")
    logits, weights = model(Tensor([ids], dtype=dtypes.int32), return_weights=True)
    p = logits[0, -1].softmax().numpy()              # (V,): the next token after the text
    best = int(p.argmax())
    tokens = [token_label(tokenizer.decode([i])) for i in ids]
    output = f"next token: {token_label(tokenizer.decode([best]))} (p = {p[best]:.2f})"
    return AttentionMaps(tokens, stack(weights), True, text, output)


def _collect_brackets(model: Encoder, text: str) -> AttentionMaps:
    from lama.brackets import encode
    if set(text) - set("()"):
        other = sorted(set(text) - set("()"))[0]
        raise ValueError(f"the bracket classifier reads only ( and ), got {other!r}")
    if len(text) + 1 > model.config.n_positions:
        raise ValueError(f"the text has {len(text)} brackets; the classifier reads at most "
                         f"{model.config.n_positions - 1}")
    ids = Tensor(encode([text], len(text) + 1), dtype=dtypes.int32)   # (1, T): [CLS], brackets
    _, weights = model.hidden(ids, return_weights=True)               # n_layer (1, nh, T, T)
    p = float(model(ids).softmax(-1).numpy()[0, 1])                   # (1, n_classes) -> p
    return AttentionMaps(["[CLS]", *text], stack(weights), False, text, f"p(balanced) = {p:.3f}")

def label_font(cell: float) -> tuple[float, int]:
    """The font size (points) of token labels for cells of `cell` inches, and the step between the
    labels shown (1: every token), so that neighbouring labels never overlap."""
    pitch = 72 * cell                                  # points from one label to the next
    if 0.7 * pitch >= 5.0:
        return min(9.0, 0.7 * pitch), 1
    return 5.0, math.ceil(5.0 / (0.7 * pitch))


def label_room(maps: AttentionMaps, font: float) -> float:
    """Inches for the longest token label and an axis title."""
    return (max(len(t) for t in maps.tokens) * 0.62 * font + 26) / 72


def figure_size(maps: AttentionMaps, nrows: int, ncols: int, cell: float) -> tuple[float, float]:
    """Width and height in inches of a figure of nrows x ncols maps of cell-inch cells: the
    panels, the labels on the outer edges, a title per panel and a colour bar."""
    T = len(maps.tokens)
    labels = label_room(maps, label_font(cell)[0])
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
        ax.add_patch(Polygon(corners, closed=True, facecolor="0.94", edgecolor="0.7",
                             hatch="///", lw=0))
    font, step = label_font(cell)
    ticks = np.arange(0, T, step)
    names = [maps.tokens[t] for t in ticks]
    ax.set_xticks(ticks, names if xlabels else [], rotation=90, fontsize=font, family="monospace")
    ax.set_yticks(ticks, names if ylabels else [], fontsize=font, family="monospace")
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

def plot_heads(maps: AttentionMaps, layer: int | None = None, cell: float = 0.12,
               vmax: float = 1.0, ncols: int = 4, heads: list[tuple[int, int]] | None = None):
    """Every head of one layer, or the (layer, head) pairs in heads, ncols to a row. Returns a
    matplotlib Figure with one panel per head."""
    if heads is None:
        heads = [(layer, h) for h in range(maps.n_head)]
        title = f"layer {layer}: {maps.n_head} heads"
    else:
        title = ", ".join(f"layer {l} head {h}" for l, h in heads)
    return _panels(maps, heads, min(ncols, len(heads)), cell, vmax, title)


def plot_grid(maps: AttentionMaps, cell: float = 0.06, vmax: float = 1.0):
    """Every head of every layer: one row per layer, one column per head. Returns a Figure."""
    pairs = [(l, h) for l in range(maps.n_layer) for h in range(maps.n_head)]
    title = f"{maps.n_layer} layers x {maps.n_head} heads"
    return _panels(maps, pairs, maps.n_head, cell, vmax, title)


def _panels(maps: AttentionMaps, pairs: list[tuple[int, int]], ncols: int, cell: float,
            vmax: float, title: str):
    nrows = math.ceil(len(pairs) / ncols)
    fig = _new_figure(maps, nrows, ncols, cell)
    axes = fig.subplots(nrows, ncols, squeeze=False)   # not shared: each keeps its own labels
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
    height = L * H * cell + label_room(maps, font) + 0.6
    fig = Figure(figsize=(T * cell + 2.4, height), layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["Blues"].with_extremes(bad="0.94")
    image = ax.imshow(np.ma.masked_array(rows, mask), cmap=cmap, vmin=0.0, vmax=vmax,
                      interpolation="nearest")
    ticks = np.arange(0, T, step)
    ax.set_xticks(ticks, [maps.tokens[t] for t in ticks], rotation=90, fontsize=font,
                  family="monospace")
    ax.set_yticks(range(L * H), [f"L{l} H{h}" for l in range(L) for h in range(H)],
                  fontsize=min(font, 8))
    for l in range(1, L):
        ax.axhline(l * H - 0.5, color="0.3", lw=0.8)                     # between layers
    ax.set_title(f"where {maps.tokens[query]} (position {query}) attends", fontsize=10)
    ax.set_xlabel("key")
    fig.colorbar(image, ax=ax, shrink=0.9, label="attention weight")
    return fig

def head_scores(weights: np.ndarray) -> dict[str, np.ndarray]:
    """How much each head attends to three fixed places: weights (..., n_layer, n_head, T, T),
    any leading batch axes -> {"previous", "first", "self"}, each (n_layer, n_head): the weight
    on position i-1, on position 0 and on position i, averaged over the queries i = 2..T-1 and
    the batch."""
    T = weights.shape[-1]
    if T < 3:
        raise ValueError(f"head_scores needs at least 3 positions, got {T}")
    i = np.arange(2, T)
    scores = {"previous": weights[..., i, i - 1], "first": weights[..., i, 0],
              "self": weights[..., i, i]}
    batch = tuple(range(weights.ndim - 4))
    return {name: s.mean(axis=-1).mean(axis=batch) for name, s in scores.items()}

if __name__ == "__main__":   # python -m lama.viz: the command line of lama.viewer
    from lama.viewer import main
    sys.exit(main())
