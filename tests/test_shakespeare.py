"""The character-level GPT: a short run learns, the command's errors, and sampling from the
committed model with python -m lama.gpt."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lama.data import resolve_data_dir

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "docs/results/shakespeare"
HAVE_DATA = (resolve_data_dir() / "tinyshakespeare/input.txt").exists()
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="tiny Shakespeare is not in the data directory "
                                "(set LAMA_DATA_DIR, or run python -m lama.shakespeare once to download it)")


def lama(*args, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, input=stdin,
                          timeout=300, env=env)


@needs_data
def test_short_run_learns(tmp_path):
    """Under a minute on two cores: far below the uniform baseline ln 65 = 4.17, and far below the
    untrained model's loss (step 0)."""
    from lama.shakespeare import ShakespeareConfig, run
    cfg = ShakespeareConfig(n_layer=2, n_head=2, n_embd=64, block_size=32, batch_size=16, steps=150,
                            lr=3e-3, min_lr=3e-4, warmup_steps=10, eval_interval=75, eval_batches=4,
                            sample_chars=40)
    metrics = run(cfg, tmp_path / "out", tmp_path / "work", log=lambda line: None)
    first, last = metrics["history"][0], metrics["history"][-1]
    assert first["step"] == 0 and last["step"] == 150
    assert first["val_loss"] > 4.0                       # untrained: about uniform
    assert last["val_loss"] < 2.9, last                  # learned the letters, spaces and common pairs
    assert all(isinstance(r["sample"], str) and len(r["sample"]) == 40 for r in metrics["history"])
    saved = json.loads((tmp_path / "out/config.json").read_text())
    assert saved["n_layer"] == 2 and len(saved["tokenizer"]["chars"]) == 65
    assert json.loads((tmp_path / "out/metrics.json").read_text())["history"][-1]["step"] == 150


@pytest.mark.parametrize("args, words", [
    (["--steps", "0"], "at least 1"),
    (["--n-embd", "30", "--n-head", "4"], "divisible"),
    (["--steps", "many"], "invalid int"),
    (["--lr", "1e-3", "--min-lr", "1e-2"], "min_lr"),
])
def test_bad_settings(tmp_path, args, words):
    r = lama("lama.shakespeare", "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w"), *args)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_corrupt_data_file(tmp_path):
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare/input.txt").write_text("not Shakespeare")
    r = lama("lama.shakespeare", "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w"),
             "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "sha256" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_sampling_refuses_unknown_characters():
    r = lama("lama.gpt", "--weights", str(MODEL), "-p", "café ☕", "-n", "5")
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]              # after the loading lines: one line of error
    assert last.startswith("python -m lama.gpt: error:") and "not in the vocabulary" in last, r.stderr
    assert "Traceback" not in r.stderr
