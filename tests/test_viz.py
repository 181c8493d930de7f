"""lama.viz and lama.viewer: the attention weights the models return and viz collects, against the
attention chapters' numpy reference; the pictures (size, one panel per head, the numbers they show,
labels that do not overlap); the view's data; the command line (as a user runs it); and the
interactive view in headless Chromium."""
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from tinygrad import Tensor, dtypes

import attention_numpy as ref
from lama.brackets import PAD, encode
from lama.classifier import Encoder, EncoderConfig, load_model
from lama.data import CharTokenizer
from lama.model import GPT, GPTConfig
from lama.viewer import main, to_data, to_html
from lama.viz import (collect, figure_size, head_scores, label_font, plot_grid, plot_head,
                      plot_heads, plot_query)

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER = ROOT / "docs" / "results" / "classifier.safetensors"
CHARS = "\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SENTENCE = "First Citizen:\nBefore we proceed any further, hear me"   # 53 characters


def block_params(block) -> dict:
    """A lama Block's parameters, in float64, under the names tests/attention_numpy.py uses."""
    get = lambda t: t.numpy().astype(np.float64)
    return {"W_attn": get(block.attn.c_attn.weight), "b_attn": get(block.attn.c_attn.bias),
            "W_proj": get(block.attn.c_proj.weight), "b_proj": get(block.attn.c_proj.bias),
            "ln_1_w": get(block.ln_1.weight), "ln_1_b": get(block.ln_1.bias),
            "ln_2_w": get(block.ln_2.weight), "ln_2_b": get(block.ln_2.bias),
            "W_fc": get(block.mlp.c_fc.weight), "b_fc": get(block.mlp.c_fc.bias),
            "W_mlp_proj": get(block.mlp.c_proj.weight), "b_mlp_proj": get(block.mlp.c_proj.bias)}


def reference_weights(blocks, x: np.ndarray, n_head: int, causal: bool, mask=None, eps: float = 1e-5):
    """Each block's weights (B, n_head, T, T) by the float64 reference, and the final residual stream."""
    out = []
    for block in blocks:
        p = block_params(block)
        _, w = ref.multi_head(ref.layernorm(x, p["ln_1_w"], p["ln_1_b"], eps), p, n_head, causal, mask)
        out.append(w)
        x = ref.block(x, p, n_head, "pre", causal, mask, eps)
    return out, x


@pytest.fixture(scope="module")
def char_gpt():
    Tensor.manual_seed(3)
    return GPT(GPTConfig(vocab_size=len(CHARS), n_positions=64, n_embd=48, n_layer=2, n_head=6))


@pytest.fixture(scope="module")
def classifier():
    return load_model(CLASSIFIER)


@pytest.fixture(scope="module")
def char_maps(char_gpt):
    return collect(char_gpt, SENTENCE, CharTokenizer(CHARS))


# --- the numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [dict(n_embd=32, n_layer=2, n_head=4),
                                    dict(n_embd=36, n_layer=1, n_head=3, layer_norm_epsilon=1e-3)])
def test_gpt_weights_equal_the_reference(config):
    Tensor.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=50, n_positions=16, **config))
    ids = np.random.default_rng(0).integers(0, 50, (2, 11))
    logits, weights = model(Tensor(ids, dtype=dtypes.int32), return_weights=True)
    np.testing.assert_allclose(logits.numpy(), model(Tensor(ids, dtype=dtypes.int32)).numpy(), atol=1e-5)

    wte, wpe = model.wte.weight.numpy().astype(np.float64), model.wpe.weight.numpy().astype(np.float64)
    x = wte[ids] + wpe[:11]
    expected, x = reference_weights(model.h, x, model.config.n_head, True, eps=model.config.layer_norm_epsilon)
    assert len(weights) == len(expected) == model.config.n_layer
    for ours, theirs in zip(weights, expected):
        w = ours.numpy()                                            # (B, n_head, T, T)
        np.testing.assert_allclose(w, theirs, atol=1e-5)
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)       # rows sum to 1 over the keys
        assert (w[..., ~np.tri(11, dtype=bool)] == 0).all()         # exact zeros where masked
    final = ref.layernorm(x, model.ln_f.weight.numpy(), model.ln_f.bias.numpy(), model.config.layer_norm_epsilon)
    np.testing.assert_allclose(logits.numpy(), final @ wte.T, atol=1e-4)


def test_classifier_weights_equal_the_reference_with_padding(classifier):
    ids = encode(["(()", "()(())()", "))(("], T=12)                     # padded to 12 tokens
    _, weights = classifier.hidden(Tensor(ids, dtype=dtypes.int32), return_weights=True)
    x = classifier.embed(Tensor(ids, dtype=dtypes.int32)).numpy().astype(np.float64)
    real = ids != PAD                                                   # (B, T)
    expected, _ = reference_weights(classifier.blocks, x, classifier.config.n_head, False, real[:, None, :])
    for ours, theirs in zip(weights, expected):
        w = ours.numpy()
        np.testing.assert_allclose(w, theirs, atol=1e-5)
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
        assert (w[np.broadcast_to(~real[:, None, None, :], w.shape)] == 0).all()   # padded keys: exactly 0


def test_collect_gpt_with_characters(char_gpt, char_maps):
    maps = char_maps
    T = len(SENTENCE)
    assert maps.tokens[:6] == ["F", "i", "r", "s", "t", "␣"] and maps.tokens[14] == "↵" and len(maps.tokens) == T
    assert maps.weights.shape == (2, 6, T, T) and maps.causal and maps.text == SENTENCE
    ids = Tensor([CharTokenizer(CHARS).encode(SENTENCE)], dtype=dtypes.int32)
    _, weights = char_gpt(ids, return_weights=True)
    np.testing.assert_array_equal(maps.weights, np.stack([w.numpy()[0] for w in weights]))
    p = char_gpt(ids).softmax(-1).numpy()[0, -1]
    assert maps.output == f"next token: {CHARS[int(p.argmax())].replace(' ', '␣').replace(chr(10), '↵')} (p = {p.max():.2f})"
    assert (maps.allowed() == np.tri(T, dtype=bool)).all()


def test_collect_brackets(classifier):
    maps = collect(classifier, "(()(()))")
    assert maps.tokens == ["[CLS]", "(", "(", ")", "(", "(", ")", ")", ")"] and not maps.causal
    p = classifier(Tensor(encode(["(()(()))"], 9), dtype=dtypes.int32)).softmax(-1).numpy()[0, 1]
    assert maps.output == f"p(balanced) = {p:.3f}"
    assert maps.allowed().all()


@pytest.mark.parametrize("text, words", [("", ["empty"]), ("Hello 😀", ["'😀'", "vocabulary"]),
                                          ("a" * 65, ["65 tokens", "64"])])
def test_collect_gpt_refuses(char_gpt, text, words):
    with pytest.raises(ValueError) as e:
        collect(char_gpt, text, CharTokenizer(CHARS))
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)


@pytest.mark.parametrize("text, words", [("(a)", ["'a'"]), ("()" * 33, ["66 brackets", "at most 60"])])
def test_collect_brackets_refuses(classifier, text, words):
    with pytest.raises(ValueError) as e:
        collect(classifier, text)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_head_scores_against_loops():
    rng = np.random.default_rng(0)
    w = rng.random((3, 2, 4, 9, 9)) * np.tri(9)                      # (batch, L, H, T, T), causal
    w /= w.sum(-1, keepdims=True)
    got = head_scores(w)
    for l in range(2):
        for h in range(4):
            rows = [(b, i) for b in range(3) for i in range(2, 9)]
            assert np.isclose(got["previous"][l, h], np.mean([w[b, l, h, i, i - 1] for b, i in rows]))
            assert np.isclose(got["first"][l, h], np.mean([w[b, l, h, i, 0] for b, i in rows]))
            assert np.isclose(got["self"][l, h], np.mean([w[b, l, h, i, i] for b, i in rows]))
    # a pure previous-token head and a pure first-token head score exactly 1 on their own measure
    prev, first = np.eye(9, k=-1), np.zeros((9, 9))
    prev[0, 0], first[:, 0] = 1, 1
    s = head_scores(np.stack([prev, first])[None])                   # (L=1, H=2, T, T)
    np.testing.assert_allclose(s["previous"], [[1, 0]])
    np.testing.assert_allclose(s["first"], [[0, 1]])
    with pytest.raises(ValueError):
        head_scores(np.ones((1, 1, 2, 2)))


# --- the pictures -------------------------------------------------------------------------------

def rendered(fig, dpi=100):
    """Draw fig with Agg; return the PNG's pixels (H, W, 4) and the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imread
    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return imread(io.BytesIO(buffer.getvalue())), canvas.get_renderer()


def no_overlap(labels, renderer, axis):
    boxes = sorted((t.get_window_extent(renderer) for t in labels if t.get_text()), key=lambda b: b.x0 if axis == "x" else b.y0)
    assert len(boxes) > 0
    for a, b in zip(boxes, boxes[1:]):
        assert (a.x1 <= b.x0 + 0.5) if axis == "x" else (a.y1 <= b.y0 + 0.5), (a, b)


def map_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_title()]


def test_plot_head(char_maps):
    maps, T = char_maps, len(char_maps.tokens)
    fig = plot_head(maps, 1, 4)
    pixels, renderer = rendered(fig)
    w, h = figure_size(maps, 1, 1, 0.22)
    assert np.allclose(pixels.shape[:2], (h * 100, w * 100), atol=1)   # matplotlib rounds down
    axes = map_axes(fig)
    assert len(axes) == 1 and len(fig.axes) == 2                       # the map and its colour bar
    ax = axes[0]
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(shown.mask, ~np.tri(T, dtype=bool))   # masked above the diagonal
    np.testing.assert_allclose(shown.data[np.tri(T, dtype=bool)], maps.weights[1, 4][np.tri(T, dtype=bool)])
    # the hatched staircase covers exactly the masked cells
    (patch,) = [p for p in ax.patches if p.get_hatch()]
    centres = np.array([(j, i) for i in range(T) for j in range(T)], dtype=float)
    inside = patch.get_path().contains_points(centres).reshape(T, T)
    np.testing.assert_array_equal(inside, ~np.tri(T, dtype=bool))
    # every token is labelled, on both axes, without overlap, and each cell is ~0.22 inches
    assert [t.get_text() for t in ax.get_xticklabels()] == maps.tokens == [t.get_text() for t in ax.get_yticklabels()]
    no_overlap(ax.get_xticklabels(), renderer, "x")
    no_overlap(ax.get_yticklabels(), renderer, "y")
    assert ax.get_window_extent(renderer).width / T >= 0.85 * 0.22 * 100


def test_plot_heads_one_panel_per_head(char_maps):
    maps = char_maps
    fig = plot_heads(maps, 0)                                          # 6 heads: 4 + 2, two places empty
    pixels, renderer = rendered(fig, dpi=80)
    w, h = figure_size(maps, 2, 4, 0.12)
    assert np.allclose(pixels.shape[:2], (h * 80, w * 80), atol=1)   # matplotlib rounds down
    axes = map_axes(fig)
    assert [ax.get_title() for ax in axes] == [f"L0 H{k}" for k in range(6)]
    for k, ax in enumerate(axes):
        np.testing.assert_allclose(ax.images[0].get_array().filled(0), maps.weights[0, k])
    bottom = [axes[2], axes[3], axes[4], axes[5]]                      # the lowest panel of each column
    for ax in bottom:
        no_overlap(ax.get_xticklabels(), renderer, "x")
    no_overlap(axes[0].get_yticklabels(), renderer, "y")
    chosen = map_axes(plot_heads(maps, heads=[(1, 2), (0, 5)], ncols=2))   # any heads, by (layer, head)
    assert [ax.get_title() for ax in chosen] == ["L1 H2", "L0 H5"]
    np.testing.assert_allclose(chosen[1].images[0].get_array().filled(0), maps.weights[0, 5])


def test_plot_grid_and_small_cells(char_maps):
    maps = char_maps
    fig = plot_grid(maps)                                              # 2 x 6 panels, cells of 0.06 inches
    pixels, renderer = rendered(fig, dpi=100)
    w, h = figure_size(maps, 2, 6, 0.06)
    assert np.allclose(pixels.shape[:2], (h * 100, w * 100), atol=1)   # matplotlib rounds down
    axes = map_axes(fig)
    assert [ax.get_title() for ax in axes] == [f"L{l} H{k}" for l in range(2) for k in range(6)]
    font, step = label_font(0.06)
    assert step > 1 and font == 5.0                                    # too small for every label
    labels = [t.get_text() for t in axes[-1].get_xticklabels()]
    assert labels == maps.tokens[::step]
    no_overlap(axes[-1].get_xticklabels(), renderer, "x")
    no_overlap(axes[6].get_yticklabels(), renderer, "y")


def test_plot_query(classifier):
    maps = collect(classifier, "(()(()))")
    fig = plot_query(maps, 0)
    (ax,) = [a for a in fig.axes if a.images]
    np.testing.assert_allclose(ax.images[0].get_array().filled(0), maps.weights[:, :, 0, :].reshape(8, 9))
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"L{l} H{h}" for l in range(2) for h in range(4)]


# --- the view's data, and the command line --------------------------------------------------------

def test_to_data_round_trip(char_maps, classifier):
    data = json.loads(json.dumps(to_data([char_maps, char_maps], "a model", "cmd")))
    assert (data["n_layer"], data["n_head"], data["causal"], len(data["examples"])) == (2, 6, True, 2)
    rows = data["examples"][0]["weights"]
    T = len(char_maps.tokens)
    for l in range(2):
        for h in range(6):
            assert [len(r) for r in rows[l][h]] == list(range(1, T + 1))   # cut at the diagonal
            full = np.zeros((T, T))
            for i, r in enumerate(rows[l][h]):
                full[i, :len(r)] = np.array(r) / 1000
            np.testing.assert_allclose(full, char_maps.weights[l, h], atol=5e-4)
    bracket = to_data([collect(classifier, "(()(()))")], "c")
    assert [len(r) for r in bracket["examples"][0]["weights"][0][0]] == [9] * 9   # all keys: no mask
    with pytest.raises(ValueError):
        to_data([char_maps, collect(classifier, "(()(()))")], "mixed")


def run(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "lama.viz", *args], capture_output=True, text=True,
                          env=os.environ | {"HF_HUB_DISABLE_TELEMETRY": "1"} | (env or {}), timeout=timeout)


def one_line_error(rc, stdout, stderr, *words):
    assert rc == 2, (rc, stderr)
    assert "Traceback" not in stderr and stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m lama.viz: error:"), stderr
    assert all(w in lines[0] for w in words), lines[0]


def save_hf_layout(model: GPT, folder: Path, tokenizer: dict | None = None) -> Path:
    """model saved in GPT-2's Hugging Face layout (Conv1D weights transposed), as the book's Shakespeare
    model is; with a "tokenizer" entry in config.json when given."""
    from tinygrad.nn.state import get_state_dict, safe_save
    conv1d = ("c_attn.weight", "c_proj.weight", "c_fc.weight")
    folder.mkdir(parents=True, exist_ok=True)
    safe_save({name: (t.T if name.endswith(conv1d) else t).contiguous() for name, t in get_state_dict(model).items()},
              str(folder / "model.safetensors"))
    c = model.config
    config = {"model_type": "gpt2", "vocab_size": c.vocab_size, "n_positions": c.n_positions, "n_embd": c.n_embd,
              "n_layer": c.n_layer, "n_head": c.n_head, "layer_norm_epsilon": c.layer_norm_epsilon,
              "activation_function": "gelu_new"}
    (folder / "config.json").write_text(json.dumps(config | ({"tokenizer": tokenizer} if tokenizer else {})))
    return folder


@pytest.fixture(scope="module")
def char_checkpoint(tmp_path_factory, char_gpt):
    return save_hf_layout(char_gpt, tmp_path_factory.mktemp("char-gpt"), {"kind": "char", "chars": CHARS})


def test_cli_writes_data_and_pictures(tmp_path, char_checkpoint, char_maps):
    out = tmp_path / "attention.json"
    r = run("--weights", str(char_checkpoint), "--text", SENTENCE, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{out}:") and "2 layers x 6 heads" in r.stdout
    data = json.loads(out.read_text())
    assert [e["text"] for e in data["examples"]] == [SENTENCE]
    assert data["examples"][0]["tokens"] == char_maps.tokens       # the same model, loaded from disk
    flat = lambda rows: np.concatenate([row for layer in rows for head in layer for row in head])
    saved, direct = flat(data["examples"][0]["weights"]), flat(to_data([char_maps], "")["examples"][0]["weights"])
    assert saved.shape == direct.shape and np.abs(saved - direct).max() <= 1   # thousandths
    assert data["command"].startswith("python -m lama.viz --weights")

    for args, name in [((), "grid.png"), (("--layer", "1"), "layer.svg"), (("--layer", "1", "--head", "2"), "head.pdf")]:
        assert main(["--weights", str(char_checkpoint), "--text", "Hear me.", "--out", str(tmp_path / name), *args]) == 0
        assert (tmp_path / name).stat().st_size > 5000
    assert (tmp_path / "head.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "layer.svg").read_bytes()[:500]


def test_cli_html_is_standalone(tmp_path, capsys):
    out = tmp_path / "brackets.html"
    assert main(["--model", "classifier", "--text", "(()(()))", "--text", "())(()()", "--out", str(out)]) == 0
    page = out.read_text()
    assert '<div class="lama-attention">' in page and '"format":"lama-attention-1"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)      # nothing from elsewhere
    assert re.findall(r"https?://[^\s\"'`]*", page) == ["http://www.w3.org/2000/svg"]   # only SVG's namespace


def test_cli_gpt2_tokenizer(tmp_path, capsys):
    """A checkpoint with GPT-2's vocabulary and no "tokenizer" entry reads GPT-2's BPE."""
    Tensor.manual_seed(0)
    folder = save_hf_layout(GPT(GPTConfig(n_positions=32, n_embd=16, n_layer=1, n_head=2)), tmp_path / "m")
    out = tmp_path / "a.json"
    assert main(["--weights", str(folder), "--text", "Hello, world", "--out", str(out)]) == 0
    capsys.readouterr()
    assert json.loads(out.read_text())["examples"][0]["tokens"] == ["Hello", ",", "␣world"]
    code = main(["--weights", str(folder), "--text", "word " * 40, "--out", str(out)])
    one_line_error(code, *capsys.readouterr(), "41 tokens", "32")


@pytest.mark.parametrize("args, words", [
    (["--model", "classifier", "--text", "()", "--out", "a.gif"], ["a.gif", ".png", ".html"]),
    (["--model", "classifier", "--text", "()", "--out", "/nonexistent/a.png"], ["/nonexistent"]),
    (["--model", "classifier", "--text", "", "--out", "a.png"], ["empty"]),
    (["--model", "classifier", "--text", "()", "--text", "(())", "--out", "a.png"], ["one text", ".html"]),
    (["--model", "classifier", "--text", "()", "--out", "a.json", "--layer", "0"], ["--layer"]),
    (["--model", "classifier", "--text", "()", "--out", "a.png", "--head", "1"], ["--head needs --layer"]),
    (["--model", "classifier", "--text", "()", "--out", "a.png", "--layer", "-1"], ["-1"]),
    (["--model", "classifier", "--text", "()", "--out", "a.png", "--layer", "2"], ["--layer 2", "0..1"]),
    (["--model", "classifier", "--text", "()", "--out", "a.png", "--layer", "0", "--head", "4"], ["--head 4", "0..3"]),
    (["--model", "classifier", "--text", "(x)", "--out", "a.png"], ["'x'"]),
    (["--model", "classifier", "--text", "()" * 31, "--out", "a.png"], ["62 brackets", "60"]),
    (["--model", "gpt5", "--text", "hi", "--out", "a.png"], ["'gpt5'", "gpt2-medium"]),
    (["--weights", "/nonexistent/model", "--text", "hi", "--out", "a.png"], ["/nonexistent/model"]),
    (["--text", "hi"], ["--out"]),
])
def test_cli_bad_input(args, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(args)
    except SystemExit as e:                                           # argparse's own errors
        code = e.code
    captured = capsys.readouterr()
    one_line_error(code, captured.out, captured.err, *words)
    assert list(tmp_path.iterdir()) == []                             # nothing written


def test_cli_text_longer_than_context(char_checkpoint, tmp_path, capsys):
    code = main(["--weights", str(char_checkpoint), "--text", "a" * 70, "--out", str(tmp_path / "a.png")])
    one_line_error(code, *capsys.readouterr(), "70 tokens", "64")


def test_cli_gpt2_offline_without_weights(tmp_path):
    r = run("--model", "gpt2", "--text", "Hello", "--out", str(tmp_path / "a.png"),
            env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    one_line_error(r.returncode, r.stdout, r.stderr, "openai-community/gpt2", "--weights")


# --- the interactive view in a browser ------------------------------------------------------------

# The browser fixture (one Chromium per run) is in tests/conftest.py.

def check_view(page, root):
    """Drive one interactive view: switch heads and layers, hover tokens; the view follows."""
    view = page.locator(root)
    view.locator("svg line").first.wait_for(state="attached", timeout=10_000)
    edges = view.locator("line.lama-attention-edge")
    status = view.locator("[data-role=status]")
    all_heads = edges.count()
    heads = {e for e in edges.evaluate_all("els => els.map(e => e.dataset.head)")}
    assert len(heads) > 1                                             # "all heads": several colours

    view.locator("button[data-head='1']").click()
    assert view.locator("button[data-head='1']").get_attribute("aria-pressed") == "true"
    assert set(edges.evaluate_all("els => els.map(e => e.dataset.head)")) == {"1"}
    one_head = edges.evaluate_all("els => els.map(e => [e.getAttribute('y1'), e.getAttribute('y2'), e.getAttribute('stroke-opacity')])")
    assert 0 < len(one_head) < all_heads

    before = status.inner_text()
    view.locator(".lama-attention-token[data-side=q][data-index='3']").hover()
    assert "position 3" in status.inner_text() and status.inner_text() != before
    starts = set(edges.evaluate_all("els => els.map(e => e.getAttribute('y1'))"))
    assert len(starts) == 1                                           # only query 3's lines
    view.locator(".lama-attention-token[data-side=k][data-index='1']").hover()
    assert "position 1" in status.inner_text() and "attended to most by" in status.inner_text()
    assert len(set(edges.evaluate_all("els => els.map(e => e.getAttribute('y2'))"))) == 1

    page.mouse.move(0, 0)                                             # away: every line of head 1 again
    view.locator("select[data-role=layer]").select_option("1")
    other_layer = edges.evaluate_all("els => els.map(e => [e.getAttribute('y1'), e.getAttribute('y2'), e.getAttribute('stroke-opacity')])")
    assert other_layer != one_head and len(other_layer) > 0
    return view


def test_standalone_page_in_browser(browser, tmp_path, classifier):
    maps = [collect(classifier, s) for s in ("(()(()))", ")(()())(")]
    page_file = tmp_path / "view.html"
    page_file.write_text(to_html(to_data(maps, "the bracket classifier")), encoding="utf-8")
    page = browser.new_page()
    problems = []
    page.on("request", lambda r: urlparse(r.url).scheme != "file" and problems.append(f"request: {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(page_file.as_uri())
    view = check_view(page, ".lama-attention")
    assert "p(balanced)" in view.locator("[data-role=output]").inner_text()
    view.locator("select[data-role=example]").select_option("1")
    assert view.locator(".lama-attention-token[data-side=q]").count() == 9
    assert view.locator(".lama-attention-token[data-side=q][data-index='1'] text").text_content() == ")"
    assert not problems, problems
    page.close()
