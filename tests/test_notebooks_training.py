"""The notebooks of the core's Parts IV and V, the chapters that train, run top to bottom in a fresh
kernel (tests/test_notebooks.py runs Parts I to III). Their long runs are not repeated: each
notebook reads the results its chapter committed, as the chapter's own tests do."""
import pytest

import test_notebooks


@pytest.mark.parametrize("stem", test_notebooks.TRAINING)
def test_training_notebook_runs_top_to_bottom(stem, tmp_path):
    test_notebooks.run_notebook(stem, tmp_path)
