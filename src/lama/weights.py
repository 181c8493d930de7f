# Generated from docs/gpt2.md by tools/tangle.py. Do not edit: change the chapter.
"""Reading GPT-2 checkpoints in the Hugging Face layout (config.json + model.safetensors), checking
them, and downloading OpenAI's through huggingface_hub. Safetensors only: no pickles."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from tinygrad import Device, Tensor, dtypes
from tinygrad.nn.state import get_state_dict, load_state_dict, safe_save

from lama.model import GPT, PRESETS, GPTConfig


class WeightsError(ValueError):
    """A checkpoint is missing, damaged, or does not fit the model. str() is one line naming the
    file."""


SAFE_DTYPES = {"F16": dtypes.float16, "BF16": dtypes.bfloat16, "F32": dtypes.float32,
               "F64": dtypes.float64}                    # the float types we accept
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
BUFFERS = (".attn.bias", ".attn.masked_bias")              # the causal mask and its fill value


def read_safetensors_header(path: str | os.PathLike) -> dict[str, dict]:
    """Check a .safetensors file's structure and return its header: name -> {dtype, shape,
    data_offsets}. Raises WeightsError for a missing, truncated or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightsError(f"{path}: truncated ({size} bytes), not a safetensors file")
        n = int.from_bytes(head, "little")
        if n > size - 8:
            raise WeightsError(f"{path}: truncated or not safetensors: the header claims {n} "
                               f"bytes, the file has {size - 8} after the length")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            header = None
        if not isinstance(header, dict):
            raise WeightsError(f"{path}: corrupt safetensors header (not a JSON object)")
    header.pop("__metadata__", None)
    data_size = size - 8 - n
    for name, info in header.items():
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise WeightsError(f"{path}: corrupt safetensors header entry for {name!r}") from None
        if dtype not in SAFE_DTYPES:
            raise WeightsError(f"{path}: tensor {name} has dtype {dtype}; expected a float type")
        if end > data_size:
            raise WeightsError(f"{path}: truncated: tensor {name} ends at byte {end} of the data, "
                               f"which has only {data_size} bytes")
        if end - start != int(np.prod(shape)) * SAFE_DTYPES[dtype].itemsize or start < 0:
            raise WeightsError(f"{path}: corrupt: tensor {name} of shape {shape} does not fit "
                               f"its {end - start} bytes")
    return header

def strip_prefix(name: str) -> str:
    return name[len("transformer."):] if name.startswith("transformer.") else name


def infer_config(header: dict[str, dict], path) -> GPTConfig:
    """A GPTConfig from tensor shapes alone, with GPT-2's head size of 64 (the shapes do not
    say)."""
    names = {strip_prefix(k): v["shape"] for k, v in header.items()}
    if "wte.weight" not in names or "wpe.weight" not in names:
        raise WeightsError(f"{path}: no wte.weight/wpe.weight tensors: not a GPT-2 checkpoint")
    (V, C), (P, _) = names["wte.weight"], names["wpe.weight"]
    n_layer = len({k.split(".")[1] for k in names if k.startswith("h.")})
    if C % 64 != 0:
        raise WeightsError(f"{path}: cannot infer n_head for n_embd={C}; "
                           "put a config.json beside it")
    return GPTConfig(vocab_size=V, n_positions=P, n_embd=C, n_layer=n_layer, n_head=C // 64)


def gpt2_state_dict(path, header: dict[str, dict], config: GPTConfig) -> dict[str, Tensor]:
    """Read the checkpoint at path into lama's names and layouts, realized, after checking every
    shape against config."""
    expected = expected_shapes(config)
    keys: dict[str, str] = {}                                       # lama's name -> the file's
    for key, info in header.items():
        name = strip_prefix(key)
        if name.endswith(BUFFERS) or name == "lm_head.weight":
            continue                         # mask buffers; lm_head is the tied wte again
        if name not in expected:
            raise WeightsError(f"{path}: unexpected tensor {key} for a GPT-2 with "
                               f"n_layer={config.n_layer}")
        shape = tuple(info["shape"])
        conv1d = name.endswith(CONV1D)
        want = expected[name][::-1] if conv1d else expected[name]   # Conv1D stores (in, out)
        if shape != want:
            raise WeightsError(f"{path}: tensor {key} has shape {shape}, the config needs {want}")
        keys[name] = key
    missing = sorted(set(expected) - set(keys))
    if missing:
        raise WeightsError(f"{path}: missing {len(missing)} tensors, e.g. {missing[0]}")
    with open(path, "rb") as f:
        data = 8 + int.from_bytes(f.read(8), "little")              # where the numbers begin
    out: dict[str, Tensor] = {}
    for name, key in keys.items():
        info = header[key]
        start, end = info["data_offsets"]
        raw = Tensor(Path(path))[data + start:data + end]           # the bytes, on DISK
        t = raw.bitcast(SAFE_DTYPES[info["dtype"]]).reshape(info["shape"])
        t = t.to(Device.DEFAULT).cast(dtypes.float32)               # from the file into memory
        # contiguous(): a transposed *view* would make every matmul read the weights by columns
        t = (t.T if name.endswith(CONV1D) else t).contiguous()
        try:
            out[name] = t.realize()
        except Exception as e:
            raise WeightsError(f"{path}: could not read tensor {key} ({e})") from None
    return out


def expected_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """name -> shape of every parameter of GPT(config), in lama's (out, in) layout, without
    building it."""
    V, P, C = config.vocab_size, config.n_positions, config.n_embd
    shapes = {"wte.weight": (V, C), "wpe.weight": (P, C), "ln_f.weight": (C,)}
    per_block = {"ln_1.weight": (C,), "attn.c_attn.weight": (3 * C, C),
                 "attn.c_proj.weight": (C, C), "ln_2.weight": (C,),
                 "mlp.c_fc.weight": (4 * C, C), "mlp.c_proj.weight": (C, 4 * C)}
    if config.bias:
        shapes["ln_f.bias"] = (C,)
        per_block |= {"ln_1.bias": (C,), "attn.c_attn.bias": (3 * C,), "attn.c_proj.bias": (C,),
                      "ln_2.bias": (C,), "mlp.c_fc.bias": (4 * C,), "mlp.c_proj.bias": (C,)}
    for i in range(config.n_layer):
        shapes |= {f"h.{i}.{k}": s for k, s in per_block.items()}
    return shapes

def load_gpt2(path: str | os.PathLike) -> GPT:
    """A GPT with the weights of a checkpoint: a directory with config.json + model.safetensors (the
    Hugging Face layout), or a .safetensors file (its config from config.json beside it, else
    inferred from the shapes with head size 64). Raises WeightsError with a one-line reason."""
    path = Path(path)
    if path.is_dir():
        config_path, file = path / "config.json", path / "model.safetensors"
        if not file.exists() and any(path.glob("*.bin")):
            raise WeightsError(f"{path}: has only PyTorch .bin weights; lama reads safetensors "
                               "only (pickled .bin files can run code when loaded)")
    else:
        config_path, file = path.with_name("config.json"), path
    if file.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"):
        raise WeightsError(f"{file}: a pickled PyTorch file; lama reads safetensors only "
                           "(pickles can run code when loaded): convert it, or use "
                           "model.safetensors")
    header = read_safetensors_header(file)
    if config_path.is_file():
        try:
            config = GPTConfig.from_hf(json.loads(config_path.read_text()))
        except (ValueError, TypeError) as e:
            raise WeightsError(f"{config_path}: {e}") from None
    else:
        config = infer_config(header, file)
    state = gpt2_state_dict(file, header, config)
    model = GPT(config, init=False)
    load_state_dict(model, state, strict=True, verbose=False, realize=True)
    return model

def save_gpt2(model: GPT, path: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write model as path/config.json + path/model.safetensors in the Hugging Face GPT-2 layout.
    Returns the directory."""
    c = model.config
    if not c.bias:
        raise ValueError("the Hugging Face GPT-2 layout has biases; this model was built with "
                         "bias=False")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {name: (t.T if name.endswith(CONV1D) else t).contiguous()  # Conv1D's (in, out)
               for name, t in get_state_dict(model).items()}
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
              "vocab_size": c.vocab_size, "n_positions": c.n_positions, "n_ctx": c.n_positions,
              "n_embd": c.n_embd, "n_layer": c.n_layer, "n_head": c.n_head,
              "layer_norm_epsilon": c.eps, "activation_function": "gelu_new",
              "tie_word_embeddings": True, **(extra or {})}
    text = json.dumps(config, indent=1) + "\n"
    for name, write in [("model.safetensors", lambda tmp: safe_save(tensors, str(tmp))),
                        ("config.json", lambda tmp: tmp.write_text(text))]:
        tmp = out / f".{name}.tmp"
        write(tmp)
        os.replace(tmp, out / name)             # atomic: the old file or the new one, never half
    return out

def download(name: str) -> Path:
    """The local directory of GPT-2 size `name` (gpt2, gpt2-medium, gpt2-large, gpt2-xl),
    downloading config.json and model.safetensors from openai-community/<name> on first use."""
    if name not in PRESETS:
        raise WeightsError(f"unknown model {name!r}; choose one of {', '.join(PRESETS)}")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    repo = f"openai-community/{name}"
    try:
        hf_hub_download(repo, "config.json")
        return Path(hf_hub_download(repo, "model.safetensors")).parent
    except LocalEntryNotFoundError:
        raise WeightsError(f"{repo}: the weights are not in the Hugging Face cache and cannot be "
                           "downloaded (offline?); connect once, or pass --weights PATH") from None
    except (HfHubHTTPError, OSError) as e:
        raise WeightsError(f"{repo}: download failed: {str(e).splitlines()[0]}") from None


def from_pretrained(name: str) -> GPT:
    """OpenAI's GPT-2 of size `name`, from the Hugging Face cache or the hub."""
    return load_gpt2(download(name))
