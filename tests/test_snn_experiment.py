"""Smoke test of experiments/snn_classify.py: it runs end to end with ``--quick``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("mlxtend")
pytest.importorskip("aeon")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_snn_classify_quick(tmp_path):
    import pandas as pd

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / "snn_classify.py"), "--quick", "--out",
                          str(tmp_path), "--seeds", "4"], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name in ("results.csv", "summary.csv", "history.csv", "results.json", "learning_curves.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    results = pd.read_csv(tmp_path / "results.csv")
    assert results["task"].tolist() == ["digits", "mnist_sample", "japanese_vowels"]
    assert results["seed"].tolist() == [4, 4, 4]
    assert results["test_accuracy"].between(0, 1).all()
    assert (results["synops_per_sample"] > 0).all() and (results["epochs_run"] == 2).all()
    info = json.loads((tmp_path / "results.json").read_text())
    assert info["quick"] and info["configs"]["mnist_sample"]["n_steps"] == 25
    assert "Mean ± std over seeds" in res.stdout
