"""lama.reversal: one causal block learns to reverse what it has seen, and only that."""
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from lama.reversal import ReversalConfig, evaluate, main, reversal_batch, train_reversal

ROOT = Path(__file__).resolve().parent.parent


def test_reversal_batch():
    x, y = reversal_batch(np.random.default_rng(0), 16, 6, 5)
    assert x.shape == y.shape == (16, 6) and x.dtype == np.int32
    assert x.min() >= 0 and x.max() < 5
    np.testing.assert_array_equal(y, x[:, ::-1])


def test_a_causal_block_reverses_the_second_half_and_guesses_the_first():
    """A short, deterministic run (about half a minute on two cores, most of it compiling)."""
    cfg = ReversalConfig(steps=120, eval_size=1024)
    model, losses = train_reversal(cfg)
    result = evaluate(model, cfg)
    chance = 1 / cfg.vocab_size
    # Learned: the visible half is reversed (nearly) perfectly ...
    assert result["second_half"] > 0.95, result
    # ... and the invisible half is at chance. 4096 guesses: the standard error is 0.005.
    assert abs(result["first_half"] - chance) < 0.04, result
    # The loss there is that of the uniform guess, log(vocab_size); in the second half it is near 0.
    assert min(result["loss"][:4]) > 0.95 * math.log(cfg.vocab_size) and max(result["loss"][4:]) < 0.1, result
    assert losses[-1] < 0.6 * losses[0]


def test_the_committed_results_are_the_default_run():
    results = json.loads((ROOT / "docs" / "results" / "reversal.json").read_text())
    defaults = {k: v for k, v in asdict(ReversalConfig()).items() if k != "causal"}
    assert results["settings"] == defaults
    assert set(results["runs"]) == {"causal", "bidirectional"}
    for run in results["runs"].values():
        assert len(run["accuracy"]) == len(run["loss"]) == defaults["length"]


@pytest.mark.parametrize("argv, message", [
    (["--length", "7"], "length must be even"),
    (["--vocab-size", "1"], "vocab_size must be at least 2"),
    (["--n-embd", "10", "--n-head", "4"], "multiple of n_head"),
    (["--steps", "0"], "must be positive"),
    (["--masks", "sideways"], "invalid choice"),
    (["--out", "/no-such-folder/reversal.json"], "does not exist"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
