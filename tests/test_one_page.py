"""GPT on one page (docs/gpt-one-page.md): lama.onepage stands alone, computes lama.model.GPT's
logits from the same weights, learns, and reads tiny Shakespeare only when its sha256 is right."""
import ast
import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
from tinygrad import Tensor, dtypes
from tinygrad.nn.state import get_state_dict, load_state_dict

import lama.model
import lama.onepage as one

ROOT = Path(__file__).resolve().parent.parent


def test_imports_nothing_from_lama():
    tree = ast.parse((ROOT / "src" / "lama" / "onepage.py").read_text())
    modules = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names]
    modules += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "tinygrad" in modules and not [m for m in modules if m.split(".")[0] == "lama"], modules


@pytest.mark.parametrize("sizes, shape", [
    (dict(vocab_size=97, n_positions=40, n_embd=36, n_layer=2, n_head=4), (2, 13)),  # heads of 9
    (dict(vocab_size=50, n_positions=24, n_embd=48, n_layer=1, n_head=6), (4, 24)),  # full window
])
def test_same_logits_as_lama_model(sizes, shape):
    Tensor.manual_seed(sum(sizes.values()))
    reference = lama.model.GPT(lama.model.GPTConfig(**sizes))
    ours = one.GPT(one.GPTConfig(**sizes))
    state = get_state_dict(reference)
    shapes = lambda d: {k: v.shape for k, v in d.items()}  # noqa: E731
    assert shapes(get_state_dict(ours)) == shapes(state)               # GPT-2's names and layouts
    zeros = Tensor.zeros(1, 4, dtype=dtypes.int32)
    before = ours(zeros).numpy()
    load_state_dict(ours, state, verbose=False)
    ids = np.random.default_rng(1).integers(0, sizes["vocab_size"], size=shape)
    ids = Tensor(ids, dtype=dtypes.int32)
    got, want = ours(ids).numpy(), reference(ids).numpy()
    assert got.shape == (*shape, sizes["vocab_size"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the comparison can fail: before the copy the two models' logits differ
    assert not np.allclose(before, reference(zeros).numpy(), atol=1e-3)


def test_initialisation_follows_gpt2():
    Tensor.manual_seed(0)
    model = one.GPT(one.GPTConfig(vocab_size=300, n_positions=64, n_embd=64, n_layer=2, n_head=2))
    std = lambda t: float(t.numpy().std())  # noqa: E731
    assert abs(std(model.wte.weight) - 0.02) < 0.002
    assert abs(std(model.wpe.weight) - 0.01) < 0.001
    block = model.h[1]
    assert abs(std(block.mlp.c_fc.weight) - 0.02) < 0.002
    assert abs(std(block.mlp.c_proj.weight) - 0.02 / 2) < 0.001        # 0.02 / sqrt(2 * n_layer)
    assert not block.attn.c_attn.bias.numpy().any()


def test_train_step_reduces_the_loss():
    """Five steps on one fixed batch: the loss falls well below the first step's."""
    Tensor.manual_seed(3)
    model = one.GPT(one.GPTConfig(vocab_size=20, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    rng = np.random.default_rng(0)
    x, y = one.get_batch(rng.integers(0, 20, size=500).astype(np.int32), 8, 16, rng)
    step = one.make_train_step(model, lr=1e-2)
    with Tensor.train():
        losses = [step(x, y).item() for _ in range(6)]
    assert abs(losses[0] - np.log(20)) < 0.2, losses               # starts at the uniform guess
    assert losses[-1] < losses[0] - 0.3 and all(np.isfinite(losses)), losses
    # the update changed the model: its loss on the batch is now the lower one
    assert model(x).sparse_categorical_crossentropy(y).item() < losses[-1] + 0.1


def test_generate_extends_the_prompt_reproducibly():
    Tensor.manual_seed(4)
    model = one.GPT(one.GPTConfig(vocab_size=11, n_positions=8, n_embd=16, n_layer=1, n_head=2))
    a = one.generate(model, [1, 2, 3], 12, seed=5)     # past the window of 8: it slides
    assert a[:3] == [1, 2, 3] and len(a) == 15 and all(0 <= i < 11 for i in a)
    assert one.generate(model, [1, 2, 3], 12, seed=5) == a
    greedy = one.generate(model, [1, 2, 3], 3, temperature=1e-4)
    ids = [1, 2, 3]
    for _ in range(3):                                  # the same tokens without the padding
        ids.append(int(model(Tensor([ids], dtype=dtypes.int32)).numpy()[0, -1].argmax()))
    assert greedy == ids


@pytest.fixture
def server(tmp_path):
    """A local HTTP server for files written into tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_tiny_shakespeare_downloads_once_and_checks(server, tmp_path, monkeypatch):
    text = one.tiny_shakespeare()                      # from LAMA_DATA_DIR (the test setup's data)
    assert len(text) == 1_115_394
    www, base = server
    (www / "input.txt").write_text(text, encoding="utf-8")
    monkeypatch.setenv("LAMA_DATA_DIR", str(tmp_path / "data"))
    assert one.tiny_shakespeare(f"{base}/input.txt") == text
    kept = tmp_path / "data" / "tinyshakespeare" / "input.txt"
    assert kept.read_text(encoding="utf-8") == text
    (www / "input.txt").unlink()
    assert one.tiny_shakespeare(f"{base}/input.txt") == text   # the kept copy, no download
    kept.write_text(text[:-1] + "?", encoding="utf-8")          # damaged: refused
    with pytest.raises(ValueError, match="sha256"):
        one.tiny_shakespeare(f"{base}/input.txt")
    kept.unlink()
    (www / "input.txt").write_text("not Shakespeare", encoding="utf-8")
    with pytest.raises(ValueError, match="sha256"):
        one.tiny_shakespeare(f"{base}/input.txt")
    assert not kept.exists()                            # a wrong download is not kept
