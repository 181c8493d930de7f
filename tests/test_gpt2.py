"""lama's GPT-2 against Hugging Face transformers on random checkpoints in the hub's layout, and the
loader's answers to damaged files."""
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from tinygrad import Tensor
from transformers import GPT2Config, GPT2LMHeadModel

from lama.generate import generate
from lama.model import GPTConfig
from lama.weights import WeightsError, load_gpt2


def save_hf(folder: Path, seed: int = 0, **config) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    V = config.setdefault("vocab_size", 101)
    hf = GPT2LMHeadModel(GPT2Config(bos_token_id=V - 1, eos_token_id=V - 1, **config)).eval()
    hf.save_pretrained(folder, safe_serialization=True)
    return hf


def hf_logits(hf, ids: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return hf(torch.tensor(ids)).logits.numpy()


@pytest.mark.parametrize("config", [
    dict(n_positions=40, n_embd=36, n_layer=2, n_head=4),    # head size 9
    dict(n_positions=23, n_embd=48, n_layer=1, n_head=3),    # head size 16, odd context window
    dict(n_positions=64, n_embd=32, n_layer=3, n_head=1, layer_norm_epsilon=1e-3),
])
def test_logits_match_transformers(tmp_path, config):
    hf = save_hf(tmp_path, **config)
    model = load_gpt2(tmp_path)
    names = {"layer_norm_epsilon": "eps"}                    # Hugging Face's name -> lama's
    assert model.config == GPTConfig(vocab_size=101, **{names.get(k, k): v for k, v in config.items()})
    ids = np.random.default_rng(1).integers(0, 101, size=(2, config["n_positions"]))  # the whole window
    diff = np.abs(model(Tensor(ids)).numpy() - hf_logits(hf, ids)).max()
    assert diff <= 1e-4, diff


def test_a_model_built_to_be_loaded_draws_nothing(tmp_path):
    """GPT(config, init=False) runs no kernel and realizes no parameter; loading fills every one,
    and the loaded model is the one a randomly initialised model would have become."""
    from tinygrad import GlobalCounters
    from tinygrad.nn.state import get_state_dict, load_state_dict

    from lama.model import GPT
    config = GPTConfig(vocab_size=101, n_positions=16, n_embd=32, n_layer=2, n_head=4)
    kernels = GlobalCounters.kernel_count
    empty = GPT(config, init=False)
    assert GlobalCounters.kernel_count == kernels
    assert not any(p.uop.is_realized for p in get_state_dict(empty).values())
    drawn = GPT(config)
    assert GlobalCounters.kernel_count > kernels                 # the random draw does run kernels
    save_hf(tmp_path, n_positions=16, n_embd=32, n_layer=2, n_head=4)
    loaded = load_gpt2(tmp_path)
    load_state_dict(drawn, get_state_dict(loaded), verbose=False)
    ids = Tensor([[1, 2, 3, 4, 5]])
    np.testing.assert_array_equal(loaded(ids).numpy(), drawn(ids).numpy())


def test_attention_weights_match_transformers(tmp_path):
    """return_weights=True: the same logits, and each block's attention probabilities
    (B, n_head, T, T) equal transformers' output_attentions."""
    hf = save_hf(tmp_path, n_positions=16, n_embd=24, n_layer=3, n_head=3)
    model = load_gpt2(tmp_path)
    ids = np.random.default_rng(4).integers(0, 101, size=(2, 11))
    logits, weights = model(Tensor(ids), return_weights=True)
    assert np.array_equal(logits.numpy(), model(Tensor(ids)).numpy())
    with torch.no_grad():
        theirs = hf(torch.tensor(ids), output_attentions=True).attentions
    assert len(weights) == 3 and weights[0].shape == (2, 3, 11, 11)
    for w, t in zip(weights, theirs):
        assert np.abs(w.numpy() - t.numpy()).max() <= 1e-5


def test_full_vocabulary_prefill_and_decode_match_transformers(tmp_path):
    """GPT-2's own vocabulary, the prompt and then every decode step through the KV cache
    (lama.generate.Generator), position by position, against transformers' logits."""
    from lama.generate import Generator
    hf = save_hf(tmp_path, vocab_size=50257, n_positions=32, n_embd=64, n_layer=2, n_head=2)
    model = load_gpt2(tmp_path)
    ids = np.random.default_rng(2).integers(0, 50257, size=(1, 20))
    theirs = hf_logits(hf, ids)[0]                                    # (20, V)
    assert np.abs(model(Tensor(ids)).numpy()[0] - theirs).max() <= 1e-4
    gen = Generator(model)
    ours = [gen.prefill(ids[0, :8].tolist())] + [gen.decode(int(t)) for t in ids[0, 8:]]
    assert np.abs(np.stack(ours) - theirs[7:]).max() <= 1e-4


def test_prefixed_keys_and_single_file(tmp_path):
    """OpenAI's upload has no 'transformer.' prefix and keeps the attn.bias buffers; a lone file gets
    its config from config.json beside it, or from its shapes (head size 64)."""
    from safetensors.numpy import save_file
    hf = save_hf(tmp_path / "hf", n_positions=16, n_embd=64, n_layer=2, n_head=1)
    sd = {k.removeprefix("transformer."): v.numpy() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    for i in range(2):
        sd[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), np.float32))
    lone = tmp_path / "lone"
    lone.mkdir()
    save_file(sd, lone / "weights.safetensors")
    ids = np.arange(10).reshape(1, 10)
    inferred = load_gpt2(lone / "weights.safetensors")          # no config.json: n_head = 64 / 64
    assert inferred.config.n_head == 1 and inferred.config.n_layer == 2
    assert np.abs(inferred(Tensor(ids)).numpy() - hf_logits(hf, ids)).max() <= 1e-4


def test_greedy_50_tokens_same_with_and_without_cache(tmp_path):
    hf = save_hf(tmp_path, seed=3, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    model = load_gpt2(tmp_path)
    prompt = [5, 17, 3, 99, 42]
    cached = generate(model, prompt, 50)
    # without the cache every length is a new shape to compile: the first 10 tokens suffice
    assert cached[:15] == generate(model, prompt, 10, cache=False)
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), max_new_tokens=50, do_sample=False, min_new_tokens=50,
                             pad_token_id=0)[0].tolist()
    assert cached == theirs


def test_sampling_seeds(tmp_path):
    save_hf(tmp_path, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    model = load_gpt2(tmp_path)
    kw = dict(temperature=0.9, top_k=50, top_p=0.95)
    a, b = generate(model, [1, 2], 10, seed=1, **kw), generate(model, [1, 2], 10, seed=1, **kw)
    assert a == b and a != generate(model, [1, 2], 10, seed=2, **kw)


# ---- damaged and wrong files: one line that names the file ------------------------------------

@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    save_hf(folder, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    return folder


def broken_copy(good: Path, tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "config.json").write_bytes((good / "config.json").read_bytes())
    (tmp_path / "model.safetensors").write_bytes(data)
    return tmp_path


def check_error(path, *words):
    with pytest.raises(WeightsError) as e:
        load_gpt2(path)
    message = str(e.value)
    assert "\n" not in message and all(w in message for w in words), message
    return message


def test_missing(tmp_path):
    check_error(tmp_path, str(tmp_path / "model.safetensors"), "no such file")
    check_error(tmp_path / "nothing.safetensors", "nothing.safetensors", "no such file")


def test_truncated(good, tmp_path):
    data = (good / "model.safetensors").read_bytes()
    check_error(broken_copy(good, tmp_path, data[:-100]), "model.safetensors", "truncated")
    check_error(broken_copy(good, tmp_path, data[:5]), "model.safetensors", "truncated")


def test_corrupt_header(good, tmp_path):
    data = bytearray((good / "model.safetensors").read_bytes())
    data[8:12] = b"\x00garbage"[:4]
    check_error(broken_copy(good, tmp_path, bytes(data)), "model.safetensors", "corrupt")


def test_wrong_shape(good, tmp_path):
    data = (good / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    # same bytes, another shape: the structure is fine, but the config needs a different one
    header["transformer.h.0.mlp.c_fc.weight"]["shape"] = [32, 32]
    new = json.dumps(header, separators=(",", ":")).encode()
    assert len(new) <= n
    new += b" " * (n - len(new))
    msg = check_error(broken_copy(good, tmp_path, data[:8] + new + data[8 + n:]), "h.0.mlp.c_fc.weight", "shape")
    assert "(32, 32)" in msg and "(16, 64)" in msg


def test_config_mismatch(good, tmp_path):
    broken_copy(good, tmp_path, (good / "model.safetensors").read_bytes())
    cfg = json.loads((good / "config.json").read_text()) | {"n_layer": 2}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    check_error(tmp_path, "missing", "h.1.")


def test_pickles_refused(good, tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not even read")
    check_error(tmp_path / "pytorch_model.bin", "pytorch_model.bin", "safetensors only")
    check_error(tmp_path, "safetensors only")


def test_config_validation():
    with pytest.raises(ValueError):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError):
        GPTConfig(vocab_size=0)
    assert GPTConfig(vocab_size=65, n_positions=256, n_embd=128, n_layer=4, n_head=4).head_size == 32


REAL = "openai-community/gpt2-medium"


def real_weights() -> Path | None:
    from huggingface_hub import try_to_load_from_cache
    found = [try_to_load_from_cache(REAL, f) for f in ("config.json", "model.safetensors")]
    return Path(found[1]).parent if all(isinstance(f, str) for f in found) else None


@pytest.mark.real_weights  # the one test LAMA_REQUIRE_ALL lets skip: no machine of CI's can download them
@pytest.mark.skipif(real_weights() is None, reason=f"{REAL} is not in the Hugging Face cache (no network here)")
def test_real_gpt2_medium():
    import tiktoken
    enc = tiktoken.get_encoding("gpt2")
    model = load_gpt2(real_weights())
    prompt = enc.encode("What is the answer to life, the universe, and everything?")
    out = generate(model, prompt, 10)
    assert enc.decode(out[len(prompt):]) == "\n\nThe answer is that we are all one"


def test_saved_model_loads_in_transformers(tmp_path):
    """save_gpt2 writes what transformers reads: the same logits from both libraries."""
    from lama.model import GPT
    from lama.weights import save_gpt2

    Tensor.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=70, n_positions=32, n_embd=48, n_layer=2, n_head=3))
    save_gpt2(model, tmp_path, extra={"tokenizer": {"kind": "char", "chars": "ab"}})
    assert not list(tmp_path.glob(".*.tmp"))
    hf = GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids = np.random.default_rng(0).integers(0, 70, (2, 20))
    np.testing.assert_allclose(hf_logits(hf, ids), model(Tensor(ids)).numpy(), rtol=1e-4, atol=1e-4)
    assert json.loads((tmp_path / "config.json").read_text())["tokenizer"]["chars"] == "ab"
