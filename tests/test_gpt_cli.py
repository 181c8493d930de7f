"""python -m lama.gpt, run as a user runs it: in a subprocess, on a random GPT-2 checkpoint saved by
transformers, and through huggingface_hub against a local stand-in for the hub."""
import hashlib
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

PROMPT = "Hello, world. ü"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gpt2-random")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_positions=64, n_embd=16, n_layer=1, n_head=2)).save_pretrained(
        folder, safe_serialization=True)
    return folder


def run(*args, stdin=None, env=None, timeout=300):
    full_env = os.environ | {"HF_HUB_DISABLE_TELEMETRY": "1"} | (env or {})
    return subprocess.run([sys.executable, "-m", "lama.gpt", *args], input=stdin, capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    errors = [l for l in r.stderr.splitlines() if "error" in l]             # progress lines may come before
    assert len(errors) == 1 and r.stderr.strip().endswith(errors[0]), r.stderr
    line = errors[0]
    assert line.startswith("python -m lama.gpt: error:"), r.stderr
    assert all(w in line for w in words), line


def test_greedy_output_is_prompt_plus_lama_generation(checkpoint):
    import tiktoken
    from lama.generate import generate
    from lama.weights import load_gpt2
    enc = tiktoken.get_encoding("gpt2")
    ids = enc.encode(PROMPT)
    expected = generate(load_gpt2(checkpoint), ids, 8)
    r = run("-p", PROMPT, "-n", "8", "--temperature", "0", "--weights", str(checkpoint))
    assert r.returncode == 0, r.stderr
    assert r.stdout == PROMPT + enc.decode_bytes(expected[len(ids):]).decode("utf-8", errors="replace")
    assert "8 tokens in" in r.stderr and "tokens/s" in r.stderr


def test_seeds_and_stdin(checkpoint):
    args = ("-n", "6", "--temperature", "1.0", "--top-p", "0.9", "--weights", str(checkpoint))
    a = run("-p", "-", "--seed", "3", *args, stdin=PROMPT)
    b = run("-p", PROMPT, "--seed", "3", *args)
    c = run("-p", PROMPT, "--seed", "4", *args)
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + c.stderr
    assert a.stdout == b.stdout and a.stdout.startswith(PROMPT)
    assert c.stdout != a.stdout


@pytest.mark.parametrize("args, words", [
    (["-p", ""], ["empty"]),
    (["-p", "x", "--model", "gpt5"], ["gpt5", "gpt2-medium"]),
    (["-p", "x", "-n", "-1"], ["-1"]),
    (["-p", "x", "--top-p", "0"], ["top-p"]),
    (["-p", "x", "--top-p", "1.5"], ["top-p"]),
    (["-p", "x", "--temperature", "-0.5"], ["temperature"]),
    (["-p", "x", "--top-k", "many"], ["top-k"]),
    (["-p", "x", "--beam", "-2"], ["beam"]),
    (["--weights", "/nonexistent/model"], ["--prompt"]),
    (["-p", "x", "--weights", "/nonexistent/model.safetensors"], ["/nonexistent/model.safetensors", "no such file"]),
])
def test_bad_input(args, words):
    one_line_error(run(*args), *words)


def test_device_option(checkpoint):
    """--device picks tinygrad's device (DEV) for the whole run: the same text as the default."""
    args = ("-p", PROMPT, "-n", "5", "--temperature", "0", "--weights", str(checkpoint))
    default, cpu = run(*args), run(*args, "--device", "CPU")
    assert cpu.returncode == 0, cpu.stderr
    assert cpu.stdout == default.stdout and cpu.stdout.startswith(PROMPT)
    assert "Traceback" not in cpu.stderr


def test_half(checkpoint):
    """--half decodes with float16 weights: on this model, the same greedy text as float32."""
    args = ("-p", PROMPT, "-n", "5", "--temperature", "0", "--weights", str(checkpoint))
    full, half = run(*args), run(*args, "--half")
    assert half.returncode == 0, half.stderr
    assert half.stdout == full.stdout and "5 tokens in" in half.stderr


@pytest.mark.parametrize("device", ["NOSUCHDEVICE", "CPU:a:b:c"])
def test_bad_device(checkpoint, device):
    r = run("-p", PROMPT, "--device", device, "--weights", str(checkpoint))
    one_line_error(r, "device", repr(device), "not usable")
    assert len(r.stderr.strip().splitlines()) == 1


def test_prompt_longer_than_context(checkpoint):
    one_line_error(run("-p", "word " * 80, "--weights", str(checkpoint)), "81 tokens", "64")


def test_offline_without_cache(tmp_path):
    r = run("-p", "x", "--model", "gpt2", env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    one_line_error(r, "openai-community/gpt2", "--weights")


class FakeHub(BaseHTTPRequestHandler):
    """Answers HEAD and GET on /{repo_id}/resolve/{revision}/{filename} the way the hub does."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def send_file_headers(self):
        name = self.path.split("/resolve/main/", 1)[-1]
        data = self.files.get(name) if self.path.startswith("/openai-community/gpt2/resolve/main/") else None
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return data

    def do_HEAD(self):
        self.requests.append("HEAD " + self.path)
        self.send_file_headers()

    def do_GET(self):
        self.requests.append("GET " + self.path)
        data = self.send_file_headers()
        if data is not None:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_download_through_hub_then_offline(checkpoint, tmp_path):
    FakeHub.files = {f: (checkpoint / f).read_bytes() for f in ("config.json", "model.safetensors")}
    FakeHub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    args = ("-p", PROMPT, "-n", "5", "--temperature", "0", "--model", "gpt2")
    try:
        online = run(*args, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert online.returncode == 0, online.stderr
    assert "GET /openai-community/gpt2/resolve/main/model.safetensors" in FakeHub.requests
    cached = list((tmp_path / "hf").rglob("model.safetensors"))
    assert cached and cached[0].read_bytes() == FakeHub.files["model.safetensors"]
    offline = run(*args, env=env | {"HF_HUB_OFFLINE": "1"})          # the server is gone
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == online.stdout and offline.stdout.startswith(PROMPT)
    direct = run("-p", PROMPT, "-n", "5", "--temperature", "0", "--weights", str(checkpoint))
    assert direct.stdout == online.stdout


def test_ctrl_c_keeps_what_was_generated(checkpoint):
    p = subprocess.Popen([sys.executable, "-m", "lama.gpt", "-p", PROMPT, "-n", "100000", "--weights",
                          str(checkpoint)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        head = p.stdout.read(len(PROMPT.encode()) + 8)                 # the prompt, then some tokens
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert head.startswith(PROMPT.encode()) and len(head) > len(PROMPT.encode())
    assert p.returncode == 130, err.decode()
    assert b"Traceback" not in err and b"interrupted after" in err
    (head + rest).decode("utf-8")                                      # complete characters only
