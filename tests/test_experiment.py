"""neurorec.experiment: compare(), the result store, executors, configs, plots."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _standins as S
import numpy as np
import pandas as pd
import pytest

from neurorec.experiment import (
    COLUMNS,
    ConfigError,
    SpecError,
    SQLiteStore,
    compare,
    default_config_path,
    format_summary,
    load_config,
    plot_summary,
    run_key,
    summarize,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
REQUIRED = ["model", "task", "seed", "split", "metric", "value", "fit_seconds", "predict_seconds",
            "params_total", "params_trained", "peak_memory_mb", "synops", "status", "error",
            "run_key"]


@pytest.fixture(autouse=True)
def _clear_calls():
    S.FIT_CALLS.clear()
    yield
    S.FIT_CALLS.clear()


def _value(df, model, task, seed, split):
    sel = df[(df.model == model) & (df.task == task) & (df.seed == seed) & (df.split == split)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def _db_counts(path):
    con = sqlite3.connect(path)
    try:
        runs = con.execute("SELECT COUNT(*), COUNT(DISTINCT run_key) FROM runs").fetchone()
        rows = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        con.close()
    return runs[0], runs[1], rows


# ------------------------------------------------------------------------------------------
# the tidy frame
# ------------------------------------------------------------------------------------------

def test_tidy_frame_has_one_row_per_model_task_seed_split_with_known_scores():
    df = compare({"a": S.ConstModel(offset=1.0), "b": S.ConstModel(offset=2.0)},
                 [S.ToyForecast()], seeds=[0, 1, 2], progress=False)
    assert list(df.columns[: len(COLUMNS)]) == COLUMNS
    assert set(REQUIRED) <= set(df.columns)
    assert len(df) == 2 * 1 * 3 * 2
    assert (df.status == "ok").all() and (df.error == "").all()
    for seed in (0, 1, 2):
        # ConstModel predicts train-mean (= seed) + offset + 0.1 * its seed param: this also
        # checks that the run's seed reached the model
        assert _value(df, "a", "toy_forecast", seed, "val").value == pytest.approx(1 + 0.1 * seed)
        assert _value(df, "a", "toy_forecast", seed, "test").value == pytest.approx(
            0.5 + 0.1 * seed)
        assert _value(df, "b", "toy_forecast", seed, "test").value == pytest.approx(
            1.5 + 0.1 * seed)
    assert (df.metric == "mae").all() and not df.higher_is_better.any()
    assert (df.params_total == 10).all() and (df.params_trained == 3).all()
    assert df.synops.isna().all()
    assert (df.fit_seconds >= 0).all() and (df.predict_seconds >= 0).all()
    assert np.isfinite(df.peak_memory_mb).all() and (df.peak_memory_mb >= 0).all()
    # one key per run, shared by its val and test rows; grid order is kept
    assert df.run_key.nunique() == 6
    assert (df.groupby("run_key").size() == 2).all()
    assert list(df.split[:2]) == ["val", "test"]
    assert list(df.drop_duplicates("run_key").model) == ["a"] * 3 + ["b"] * 3
    assert len(S.FIT_CALLS) == 6


def test_models_as_list_specs_and_overrides():
    f1, f2 = S.ToyForecast(name="f1"), S.ToyForecast(name="f2")
    specs = [{"name": "spec", "class": "_standins:ConstModel", "params": {"offset": 1.0},
              "overrides": {"f2": {"offset": 3.0}}}]
    df = compare(specs, [f1, f2], [0], progress=False)
    assert _value(df, "spec", "f1", 0, "val").value == pytest.approx(1.0)
    assert _value(df, "spec", "f2", 0, "val").value == pytest.approx(3.0)

    # a list of instances is named by class; the key of the same model given as an instance
    # or as a spec is the same
    df2 = compare([S.ConstModel(offset=1.0)], [f1], [0], progress=False)
    assert set(df2.model) == {"ConstModel"}
    df3 = compare([{"name": "ConstModel", "class": "_standins:ConstModel",
                    "params": {"offset": 1.0}}], [f1], [0], progress=False)
    assert df2.run_key.iloc[0] == df3.run_key.iloc[0]


def test_model_without_seed_param_and_synops_and_missing_param_count():
    df = compare({"noseed": S.NoSeedModel(), "spk": S.SpikingStandin()}, [S.ToyForecast()], [3],
                 progress=False)
    ns = _value(df, "noseed", "toy_forecast", 3, "val")
    assert ns.status == "ok" and ns.value == pytest.approx(2.0)
    assert pd.isna(ns.params_total) and math.isnan(ns.synops)
    assert _value(df, "spk", "toy_forecast", 3, "test").synops == 1234.0


def test_run_key_is_stable_and_sensitive():
    m = {"name": "m", "class": "x:Y", "params": {"a": 1, "b": [1, 2]}, "overrides": {}}
    m_reordered = {"overrides": {}, "params": {"b": [1, 2], "a": 1}, "class": "x:Y", "name": "m"}
    t = {"name": "t", "params": {"n": 3}}
    k = run_key(m, t, 0)
    assert k == run_key(m_reordered, t, 0)
    assert len(k) == 32
    assert k != run_key(m, t, 1)
    assert k != run_key({**m, "params": {"a": 2, "b": [1, 2]}}, t, 0)
    assert k != run_key({**m, "overrides": {"a": 3}}, t, 0)
    assert k != run_key(m, {"name": "t", "params": {"n": 4}}, 0)


# ------------------------------------------------------------------------------------------
# errors and skips
# ------------------------------------------------------------------------------------------

def test_error_is_recorded_with_one_traceback_and_the_grid_goes_on(caplog):
    with caplog.at_level(logging.ERROR, logger="neurorec.experiment"):
        df = compare({"flaky": S.ConstModel(fail_on_seed=1), "ok": S.ConstModel()},
                     [S.ToyForecast(), S.BrokenLoadTask(name="broken")], [0, 1, 2],
                     progress=False)
    assert len(df) == 2 * 2 * 3 * 2
    bad = df[(df.model == "flaky") & (df.task == "toy_forecast") & (df.seed == 1)]
    assert (bad.status == "error").all() and bad.value.isna().all()
    assert bad.error.str.contains("RuntimeError: planned failure for seed 1").all()
    good = df[(df.task == "toy_forecast") & ~((df.model == "flaky") & (df.seed == 1))]
    assert (good.status == "ok").all() and good.value.notna().all()
    broken = df[df.task == "broken"]
    assert (broken.status == "error").all()
    assert broken.error.str.contains("OSError: data for seed").all()
    # one log record with a traceback per failing run: 1 (flaky) + 2 models x 3 seeds (broken)
    records = [r for r in caplog.records if r.name == "neurorec.experiment"]
    assert len(records) == 7
    assert all("Traceback" in r.getMessage() for r in records)


def test_unsupported_kind_is_skipped_not_run(tmp_path):
    db = tmp_path / "r.sqlite"
    df = compare({"fo": S.ForecastOnly(), "c": S.ConstModel()},
                 [S.ToyForecast(), S.ToyClassify()], [0, 1], store=db, progress=False)
    sk = df[(df.model == "fo") & (df.task == "toy_classify")]
    assert len(sk) == 4 and (sk.status == "skipped").all() and sk.value.isna().all()
    assert sk.error.str.contains("'classify'").all()
    assert (df[df.status != "skipped"].status == "ok").all()
    assert _value(df, "c", "toy_classify", 1, "test").value == 1.0
    assert ("ForecastOnly", 0) in S.FIT_CALLS and len(S.FIT_CALLS) == 2 + 2 + 2
    # skips are decided at each call, never stored
    runs, _, _ = _db_counts(db)
    assert runs == 6


def test_bad_specs_fail_before_running():
    with pytest.raises(SpecError, match="no class 'Nope'"):
        compare([{"name": "x", "class": "_standins:Nope"}], [S.ToyForecast()], [0],
                progress=False)
    with pytest.raises(SpecError, match="cannot build ConstModel"):
        compare([{"name": "x", "class": "_standins:ConstModel", "params": {"units": 3}}],
                [S.ToyForecast()], [0], progress=False)
    with pytest.raises(SpecError, match="duplicate model name"):
        compare([S.ConstModel(), S.ConstModel(offset=2)], [S.ToyForecast()], [0],
                progress=False)
    with pytest.raises(SpecError, match="bad overrides"):
        compare([{"name": "x", "class": "_standins:ConstModel",
                  "overrides": {"toy_forecast": {"nope": 1}}}], [S.ToyForecast()], [0],
                progress=False)
    with pytest.raises(SpecError, match="seeds"):
        compare([S.ConstModel()], [S.ToyForecast()], 3, progress=False)
    assert S.FIT_CALLS == []


# ------------------------------------------------------------------------------------------
# the store: resume, no duplicates
# ------------------------------------------------------------------------------------------

def test_resume_recomputes_nothing_and_returns_the_stored_rows(tmp_path):
    db = tmp_path / "results.sqlite"
    models = {"a": S.ConstModel(offset=1.0), "b": S.SpikingStandin(offset=0.0)}
    first = compare(models, [S.ToyForecast(), S.ToyClassify()], [0, 1], store=db,
                    progress=False)
    assert len(S.FIT_CALLS) == 8
    assert _db_counts(db) == (8, 8, 16)
    S.FIT_CALLS.clear()
    again = compare(models, [S.ToyForecast(), S.ToyClassify()], [0, 1], store=str(db),
                    progress=False)
    assert S.FIT_CALLS == []
    pd.testing.assert_frame_equal(first, again)
    assert _db_counts(db) == (8, 8, 16)

    # growing the grid runs only the new runs
    grown = compare(models, [S.ToyForecast(), S.ToyClassify()], [0, 1, 2], store=db,
                    progress=False)
    assert sorted(s for _, s in S.FIT_CALLS) == [2, 2, 2, 2]
    assert len(grown) == 24 and _db_counts(db) == (12, 12, 24)

    # resume=False recomputes and replaces: still no duplicates
    S.FIT_CALLS.clear()
    compare(models, [S.ToyForecast()], [0], store=db, progress=False, resume=False)
    assert len(S.FIT_CALLS) == 2
    assert _db_counts(db) == (12, 12, 24)


def test_errored_runs_are_retried_on_resume_and_replaced(tmp_path):
    db = tmp_path / "r.sqlite"
    grid = ({"m": S.ConstModel(fail_on_seed=1)}, [S.ToyForecast()], [0, 1])
    df = compare(*grid, store=db, progress=False)
    assert set(df[df.seed == 1].status) == {"error"}
    S.FIT_CALLS.clear()
    compare(*grid, store=db, progress=False, retry_errors=False)
    assert S.FIT_CALLS == []
    df = compare(*grid, store=db, progress=False)
    assert S.FIT_CALLS == [("ConstModel", 1)]  # only the failed run again
    assert set(df[df.seed == 1].status) == {"error"}
    assert _db_counts(db) == (2, 2, 4)


def test_a_store_opened_read_only_is_read_and_never_written(tmp_path):
    from neurorec.experiment.store import StoreError

    db = tmp_path / "r.sqlite"
    compare([S.ConstModel()], [S.ToyForecast()], [0], store=db, progress=False)
    before = db.read_bytes()
    store = SQLiteStore(db, read_only=True)          # the folder and file are writable
    try:
        assert store.read_only and store.read_only_reason == "opened for reading only"
        [run] = store.runs()
        with pytest.raises(StoreError, match="read-only"):
            store.put(run, replace="always")
    finally:
        store.close()
    assert db.read_bytes() == before
    with pytest.raises(StoreError, match="no such file"):
        SQLiteStore(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()


def test_store_primary_keys_forbid_duplicates(tmp_path):
    db = tmp_path / "r.sqlite"
    compare([S.ConstModel()], [S.ToyForecast()], [0], store=db, progress=False)
    store = SQLiteStore(db)
    try:
        [run] = store.runs()
        assert len(run["rows"]) == 2
        assert store.put(run) is False  # an ok run is kept
        assert len(store) == 1
        con = sqlite3.connect(db)
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO results (run_key, split, metric, value) VALUES (?, ?, ?, ?)",
                        (run["run_key"], "test", "mae", 0.0))
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO runs (run_key, model, task, seed, status) "
                        "VALUES (?, 'm', 't', 0, 'ok')", (run["run_key"],))
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tidy = con.execute("SELECT model, split, value FROM tidy ORDER BY split").fetchall()
        assert tidy == [("ConstModel", "test", pytest.approx(0.5)),
                        ("ConstModel", "val", pytest.approx(1.0))]
        con.close()
        frame = store.to_dataframe()
        assert len(frame) == 2 and list(frame.columns) == COLUMNS
    finally:
        store.close()


def _write_sleep_config(path: Path, log: Path, seeds, sleep=0.4) -> Path:
    path.write_text(f"""
[experiment]
name = "crash"
seeds = {json.dumps(list(seeds))}

[[models]]
name = "sleepy"
class = "_standins:ConstModel"
params = {{ sleep = {sleep}, log = {json.dumps(str(log))} }}

[[tasks]]
name = "toy"
class = "_standins:ToyForecast"
""")
    return path


def _subprocess_env(phase: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(ROOT),
                                                    env.get("PYTHONPATH", "")) if p)
    env["STANDIN_PHASE"] = phase
    return env


def _stored(db: Path) -> dict:
    """{seed: finished_at} of the runs in the store (empty while it does not exist yet)."""
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return dict(con.execute("SELECT seed, finished_at FROM runs").fetchall())
        finally:
            con.close()
    except sqlite3.DatabaseError:  # schema not created yet
        return {}


def test_killed_process_loses_at_most_the_run_in_flight(tmp_path, monkeypatch):
    from neurorec.cli import main

    seeds = list(range(6))
    log = tmp_path / "fits.log"
    cfg = _write_sleep_config(tmp_path / "crash.toml", log, seeds)
    out = tmp_path / "out"
    db = out / "results.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out),
         "--no-progress"], env=_subprocess_env("1"), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _stored(db):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no run was stored within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    before = _stored(db)
    assert 1 <= len(before) < len(seeds)

    monkeypatch.setenv("STANDIN_PHASE", "2")
    assert main(["compare", str(cfg), "--out", str(out), "--no-progress"]) == 0

    con = sqlite3.connect(db)
    try:
        per_seed = dict(con.execute("SELECT seed, COUNT(*) FROM runs GROUP BY seed").fetchall())
        dup_rows = con.execute("SELECT COUNT(*) FROM (SELECT run_key, split FROM results "
                               "GROUP BY run_key, split HAVING COUNT(*) > 1)").fetchone()[0]
        n_rows = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        con.close()
    assert per_seed == {s: 1 for s in seeds}
    assert dup_rows == 0 and n_rows == 2 * len(seeds)
    after = _stored(db)
    assert all(after[s] == before[s] for s in before)  # stored runs were kept as they were
    lines = [ln.split() for ln in log.read_text().splitlines()]
    second = [int(s) for phase, s in lines if phase == "2"]
    assert sorted(second) == sorted(set(seeds) - set(before))  # only the missing runs
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 2 * len(seeds) and set(csv.seed) == set(seeds)


# ------------------------------------------------------------------------------------------
# executors
# ------------------------------------------------------------------------------------------

def test_process_pool_gives_the_same_results_and_stores_every_run(tmp_path):
    db = tmp_path / "r.sqlite"
    grid = ({"a": S.ConstModel(), "fo": S.ForecastOnly(offset=2.0)},
            [S.ToyForecast(), S.ToyClassify()], [0, 1])
    serial = compare(*grid, progress=False)
    parallel = compare(*grid, store=db, n_jobs=2, progress=False)
    cols = ["model", "task", "seed", "split", "value", "status", "params_total", "run_key"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
    assert _db_counts(db) == (6, 6, 12)


def test_executor_instance_is_used():
    with ThreadPoolExecutor(max_workers=2) as pool:
        df = compare([S.ConstModel()], [S.ToyForecast()], [0, 1], executor=pool,
                     progress=False)
    assert (df.status == "ok").all() and len(df) == 4


def test_dask_executor_without_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    with pytest.raises(ImportError, match=r"neurorec\[dask\]"):
        compare([S.ConstModel()], [S.ToyForecast()], [0], scheduler="tcp://127.0.0.1:1",
                progress=False)
    assert S.FIT_CALLS == []


def test_progress_bar_runs(capsys):
    compare([S.ConstModel()], [S.ToyForecast()], [0, 1], progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "ConstModel / toy_forecast / seed" in err


# ------------------------------------------------------------------------------------------
# configs
# ------------------------------------------------------------------------------------------

GOOD = """
[experiment]
name = "demo"
seeds = [0, 1]

[[models]]
name = "ESN"
class = "ESN"
params = { units = 300, spectral_radius = 0.9 }
[models.overrides.narma10]
leak_rate = 1.0

[[tasks]]
name = "mackey_glass"
params = { }

[[tasks]]
name = "narma10"
"""


def _cfg(tmp_path, text, name="exp.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_config_returns_normalised_specs(tmp_path):
    cfg = load_config(_cfg(tmp_path, GOOD))
    assert cfg["experiment"] == {"name": "demo", "seeds": [0, 1], "description": "", "jobs": None, "threads": None}
    assert cfg["models"] == [{"name": "ESN", "class": "ESN",
                              "params": {"units": 300, "spectral_radius": 0.9},
                              "overrides": {"narma10": {"leak_rate": 1.0}}}]
    assert cfg["tasks"] == [{"name": "mackey_glass", "params": {}},
                            {"name": "narma10", "params": {}}]


@pytest.mark.parametrize("text, key, words", [
    (GOOD.replace('name = "demo"', 'name = "demo"\nseed = [1]'), "experiment.seed", "unknown key"),
    (GOOD.replace('name = "demo"', 'name = "demo"\njobs = 0'), "experiment.jobs", "positive integer"),
    (GOOD.replace('name = "demo"', 'name = "demo"\nthreads = "2"'), "experiment.threads", "positive integer"),
    (GOOD.replace("params = { units", "paramz = { units"), "models[0].paramz", "unknown key"),
    (GOOD + "\n[extra]\n", "extra", "unknown key"),
    (GOOD.replace('name = "ESN"\n', ""), "models[0].name", "missing"),
    (GOOD.replace('name = "narma10"', 'params = {}'), "tasks[1].name", "missing"),
    (GOOD.replace("seeds = [0, 1]", 'seeds = "0"'), "experiment.seeds", "array of integers"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [0, 1.5]"), "experiment.seeds[1]", "integer"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [0, 0]"), "experiment.seeds", "duplicates"),
    (GOOD.replace("params = { units = 300, spectral_radius = 0.9 }", "params = 3"),
     "models[0].params", "expected a table"),
    (GOOD.replace('class = "ESN"', "class = 1"), "models[0].class", "string"),
    (GOOD.replace("[models.overrides.narma10]", "[models.overrides.narma]"),
     "models[0].overrides.narma", "no task named 'narma'"),
    (GOOD.replace('[[tasks]]\nname = "narma10"', '[[tasks]]\nname = "mackey_glass"'),
     "tasks[1].name", "duplicate"),
    (GOOD.split("[[tasks]]")[0].replace("[models.overrides.narma10]\nleak_rate = 1.0", ""),
     "tasks", "missing"),
])
def test_config_errors_name_the_file_and_the_key(tmp_path, text, key, words):
    path = _cfg(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}:"), msg
    assert words in msg


def test_config_syntax_and_missing_file_errors(tmp_path):
    bad = _cfg(tmp_path, "[experiment\nname=1")
    with pytest.raises(ConfigError, match=rf"^{bad}: invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")


def test_default_config_is_shipped_and_valid():
    cfg = load_config(default_config_path())
    assert cfg["experiment"]["name"] == "default"
    assert cfg["experiment"]["seeds"] == [0, 1, 2]
    assert [m["class"] for m in cfg["models"]] == (
        ["ESN", "LinearAR", "NVAR", "DeepESN", "LSTM", "GRU", "LSM", "LSM", "SpikingClassifier", "Hopfield",
         "Hopfield", "ModernHopfield"] + ["FeatureClassifier"] * 5 + ["MultiOrderMarkov"])
    forecasting = ["mackey_glass", "narma10"]
    assert all(m["tasks"] == forecasting for m in cfg["models"] if m["class"] in ("NVAR", "DeepESN"))
    assert cfg["models"][0]["params"]["units"] == 500
    assert all(m["tasks"] == ["digits"] for m in cfg["models"] if m["class"] == "FeatureClassifier")
    assert [t["name"] for t in cfg["tasks"]] == ["mackey_glass", "narma10", "digits",
                                                 "japanese_vowels", "pattern_recall", "symbolic"]


# ------------------------------------------------------------------------------------------
# summaries and plots
# ------------------------------------------------------------------------------------------

def _grid_frame():
    return compare({"a": S.ConstModel(offset=1.0), "fo": S.ForecastOnly(offset=2.0),
                    "flaky": S.ConstModel(offset=0.0, fail_on_seed=1)},
                   [S.ToyForecast(), S.ToyClassify()], [0, 1, 2], progress=False)


def test_summarize_and_format_summary():
    df = _grid_frame()
    s = summarize(df)
    row = s[(s.task == "toy_forecast") & (s.model == "a")].iloc[0]
    assert row["mean"] == pytest.approx(0.6) and row["std"] == pytest.approx(0.1)
    assert row["n_ok"] == 3 and row["status"] == "ok" and row["params_total"] == 10
    flaky = s[(s.task == "toy_forecast") & (s.model == "flaky")].iloc[0]
    assert flaky["status"] == "partial" and flaky["n_ok"] == 2
    assert flaky["mean"] == pytest.approx((0.5 + 0.3) / 2)  # seeds 0, 2: |0 - .5|, |.2 - .5|
    assert s[(s.task == "toy_classify") & (s.model == "fo")].iloc[0]["status"] == "skipped"

    text = format_summary(df)
    lines = text.splitlines()
    assert max(len(x) for x in lines) <= 100
    forecast = lines[lines.index("forecast tasks"):lines.index("classify tasks")]
    assert forecast[1].split() == ["toy_forecast"] and forecast[2].split() == ["model", "mae", "↓"]
    rows = {ln.split()[0]: ln.split(None, 1)[1].strip() for ln in forecast[3:] if ln.strip()}
    # the best forecast model is flaky (mean 0.4 < 0.6 < 1.6); (2/3): two of three seeds ran
    assert rows == {"a": "0.6±0.1", "fo": "1.6±0.1", "flaky": "0.4±0.14 (2/3)*"}
    classify = lines[lines.index("classify tasks"):lines.index("classify tasks") + 5]
    # "fo" did not run on the classify task: not a row of that table; a tie gets no star
    assert [ln.split()[0] for ln in classify[3:]] == ["a", "flaky"] and "*" not in "".join(classify)
    # the reason a model did not run is given once, below the tables
    assert text.count("does not support 'classify' tasks") == 1 and "skipped" not in text.split("not run")[0]


def test_format_summary_splits_wide_tables_into_blocks():
    import pandas as pd

    rows = []
    for t in range(9):
        for m in ("ModelNumberOne", "M2"):
            for seed in (0, 1):
                rows.append({"task": f"a_rather_long_task_name_{t}", "model": m, "seed": seed, "split": "test",
                             "metric": "nrmse", "higher_is_better": False, "value": 0.123456 + t + seed,
                             "status": "ok", "kind": "forecast", "fit_seconds": 1.0, "predict_seconds": 0.1,
                             "params_total": 10, "params_trained": 5, "peak_memory_mb": 1.0, "synops": float("nan"),
                             "error": "", "run_key": f"{m}{t}{seed}"})
    text = format_summary(pd.DataFrame(rows))
    lines = text.splitlines()
    assert max(len(x) for x in lines) <= 100
    heads = [ln for ln in lines if ln.strip().startswith("model ")]
    assert len(heads) >= 2                                   # 9 columns do not fit in 100 characters
    assert sum(ln.count("nrmse") for ln in heads) == 9       # every task appears once


def test_plot_summary_writes_one_panel_per_task(tmp_path):
    df = _grid_frame()
    png = tmp_path / "summary.png"
    fig = plot_summary(df, png, chance={"toy_classify": 0.5})
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = fig.get_size_inches()
    assert w <= 11.0 and h <= 15.5                          # fits a page
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["toy_forecast\nmae (lower is better)",
                                               "toy_classify\naccuracy (higher is better)"]
    # models as rows, the first on top; "fo" did not run on toy_classify: not in its panel
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["flaky", "fo", "a"]
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["flaky", "a"]
    # seeds as dots: a has 3 on toy_forecast, at its values 0.5, 0.6, 0.7
    dots = [ln for ln in axes[0].lines if ln.get_marker() == "o"]
    assert sorted(np.round(np.concatenate([d.get_xdata() for d in dots]), 6)) == \
        sorted([0.5, 0.6, 0.7, 1.5, 1.6, 1.7, 0.5, 0.3])
    # the axis is zoomed to the data, not from 0
    lo, hi = axes[0].get_xlim()
    assert 0.15 < lo < 0.3 and 1.7 < hi < 1.9
    # the chance level lies outside the classify panel's data (accuracy 1): named at the edge
    assert any("chance 0.5" in t.get_text() for t in axes[1].texts)
    # one colour per family (the stand-ins are "other"), a legend of families
    assert {d.get_color() for d in dots} == {"#7f7f7f"}
    assert "other" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_plot_summary_log_axis_and_families():
    import pandas as pd

    rows = []
    for m, cls, vals in (("esn", "neurorec.models.reservoir:ESN", [1e-4, 2e-4]),
                         ("lsm", "neurorec.models.spiking.lsm:LSM", [0.05, 0.06]),
                         ("lstm", "neurorec.models.recurrent:LSTM", [1e-3, 3e-3])):
        for seed, v in enumerate(vals):
            rows.append({"task": "mackey_glass", "model": m, "seed": seed, "split": "test", "metric": "nrmse",
                         "higher_is_better": False, "value": v, "status": "ok", "kind": "forecast",
                         "fit_seconds": 1.0 + seed, "predict_seconds": 0.1, "params_total": 100,
                         "params_trained": 10 * (seed + 1), "peak_memory_mb": 1.0, "synops": float("nan"),
                         "error": "", "run_key": f"{m}{seed}", "model_class": cls})
    df = pd.DataFrame(rows)
    fig = plot_summary(df)
    ax = [a for a in fig.axes if a.get_title()][0]
    assert ax.get_xscale() == "log"                          # an error metric over 3 decades
    colors = {ln.get_color() for ln in ax.lines if ln.get_marker() == "o"}
    assert colors == {"#1f77b4", "#d62728", "#2ca02c"}       # reservoir, spiking, gradient RNN
    # NRMSE 1 (the mean's) is the chance level: outside the data, named at the right edge
    assert any(t.get_text() == "chance 1 →" for t in ax.texts)
    from neurorec.experiment import plot_cost

    fig = plot_cost(df)
    labels = [a.get_xlabel() for a in fig.axes if a.get_xlabel()]
    assert labels == ["fit time (s)", "trained parameters"]
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and sorted(t.get_text() for t in ax.texts) == ["esn", "lsm", "lstm"]


def test_importing_the_experiment_package_is_light():
    code = ("import sys, neurorec.experiment, neurorec.cli; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'brian2', 'reservoirpy', "
            "'snntorch', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_subprocess_env("-"), check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------------
# the real default config (once neurorec.data and neurorec.models are in place)
# ------------------------------------------------------------------------------------------

def _real_config(units=None, epochs=None):
    try:
        from neurorec.data import get_task  # noqa: F401
        from neurorec.models import ESN, LinearAR  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"neurorec.data / neurorec.models not available: {exc}")
    cfg = load_config(default_config_path())
    if units is not None:
        for m in cfg["models"]:
            if "units" in m["params"]:
                m["params"]["units"] = units
    if epochs is not None:
        for m in cfg["models"]:
            if m["class"] in ("LSTM", "GRU", "SpikingClassifier"):
                m["params"]["epochs"] = epochs
                for override in m.get("overrides", {}).values():
                    if "epochs" in override:
                        override["epochs"] = epochs
    return cfg


def _check_real(df, cfg, seeds):
    assert len(df) == len(cfg["models"]) * len(cfg["tasks"]) * len(seeds) * 2
    assert set(df.status) <= {"ok", "skipped"}, df[df.status == "error"].error.unique()
    ok = df[df.status == "ok"]
    assert np.isfinite(ok.value).all()
    assert (ok.params_total > 0).all() and (ok.fit_seconds > 0).all()
    assert set(ok.task) == {t["name"] for t in cfg["tasks"]}


@pytest.mark.slow  # 100 s; .ci/run runs it after the default suite (see the README's test commands)
def test_default_config_reduced_runs_on_the_real_tasks(tmp_path):
    cfg = _real_config(units=40, epochs=3)
    df = compare(cfg["models"], cfg["tasks"], [0], store=tmp_path / "r.sqlite", progress=False)
    _check_real(df, cfg, [0])


@pytest.mark.slow
def test_default_config_runs_in_full(tmp_path):
    cfg = _real_config()
    seeds = cfg["experiment"]["seeds"]
    df = compare(cfg["models"], cfg["tasks"], seeds, store=tmp_path / "r.sqlite",
                 progress=False, n_jobs=2)
    _check_real(df, cfg, seeds)


def test_runs_pin_torch_and_blas_threads_and_restore_them():
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    from neurorec.experiment.runner import _Threads

    before = torch.get_num_threads()
    blas_before = [p["num_threads"] for p in threadpool_info()]
    with _Threads(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert torch.get_num_threads() == before
    assert [p["num_threads"] for p in threadpool_info()] == blas_before
    with _Threads(None):                       # None leaves everything alone
        assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------------------
# a model restricted to some tasks (the model key ``tasks``)
# ------------------------------------------------------------------------------------------

def _restricted(tasks, name="only"):
    return {"name": name, "class": "_standins:ConstModel", "params": {"offset": 1.0}, "tasks": tasks}


def test_model_tasks_list_runs_the_model_only_there_and_skips_the_rest(tmp_path):
    db = tmp_path / "r.sqlite"
    grid = [S.ToyForecast(), S.ToyClassify()]
    df = compare([_restricted(["toy_classify"]), {"name": "all", "model": S.ConstModel()}], grid, [0, 1],
                 store=db, progress=False)
    sk = df[(df.model == "only") & (df.task == "toy_forecast")]
    assert len(sk) == 4 and (sk.status == "skipped").all() and sk.value.isna().all()
    assert (sk.error == "task not in only's task list (toy_classify)").all()
    assert _value(df, "only", "toy_classify", 1, "test").value == 1.0
    assert (df[df.model == "all"].status == "ok").all()
    assert len(S.FIT_CALLS) == 2 + 4          # "only" on toy_classify x 2 seeds, "all" everywhere
    assert _db_counts(db)[0] == 6             # skips are not stored
    # the list is not part of the run key: the same model without it has the same keys
    free = compare([{**_restricted(None), "tasks": None}], grid, [0, 1], progress=False)
    assert set(df[df.model == "only"].run_key) == set(free.run_key)

    # a re-run with a wider list resumes: the stored runs are returned, only the new ones run
    S.FIT_CALLS.clear()
    df2 = compare([_restricted(["toy_classify", "toy_forecast"]), {"name": "all", "model": S.ConstModel()}],
                  grid, [0, 1], store=db, progress=False)
    assert len(S.FIT_CALLS) == 2 and (df2.status == "ok").all()
    assert _value(df2, "only", "toy_forecast", 0, "val").value == pytest.approx(1.0)
    # narrowing the list again skips the task even though its runs are stored
    S.FIT_CALLS.clear()
    df3 = compare([_restricted(["toy_classify"])], grid, [0, 1], store=db, progress=False)
    assert S.FIT_CALLS == []
    assert (df3[df3.task == "toy_forecast"].status == "skipped").all()
    assert (df3[df3.task == "toy_classify"].status == "ok").all()


def test_model_tasks_list_with_an_instance_and_with_the_kind_check():
    # "model" (an instance) with a task list; a listed task of a kind the model does not
    # support is still skipped for its kind
    df = compare([{"name": "fo", "model": S.ForecastOnly(), "tasks": ["toy_classify"]}],
                 [S.ToyForecast(), S.ToyClassify()], [0], progress=False)
    assert (df.status == "skipped").all()
    msgs = dict(zip(df.task, df.error, strict=False))
    assert msgs["toy_forecast"] == "task not in fo's task list (toy_classify)"
    assert "does not support 'classify' tasks" in msgs["toy_classify"]
    assert S.FIT_CALLS == []


@pytest.mark.parametrize("tasks, words", [
    ("toy_forecast", "'tasks' must be a list of task names"),
    ([], "'tasks' is an empty list"),
    (["toy_forecast", 3], "non-empty task names"),
    (["toy_forecast", "toy_forecast"], "more than once"),
    (["toy_forecast", "nope", "nada"], "'tasks' names ['nope', 'nada'], which are not tasks of this grid"),
])
def test_bad_model_tasks_lists_fail_before_running(tasks, words):
    with pytest.raises(SpecError) as info:
        compare([_restricted(tasks)], [S.ToyForecast()], [0], progress=False)
    assert words in str(info.value) and "only" in str(info.value)
    assert S.FIT_CALLS == []


def test_config_model_tasks_key(tmp_path):
    text = GOOD.replace('params = { units = 300, spectral_radius = 0.9 }',
                        'params = { units = 300, spectral_radius = 0.9 }\ntasks = ["narma10"]')
    cfg = load_config(_cfg(tmp_path, text))
    assert cfg["models"][0]["tasks"] == ["narma10"]
    assert "tasks" not in load_config(_cfg(tmp_path, GOOD, "plain.toml"))["models"][0]


@pytest.mark.parametrize("value, key, words", [
    ('["narma"]', "models[0].tasks", "no task named 'narma' in [[tasks]] (tasks: mackey_glass, narma10)"),
    ('"narma10"', "models[0].tasks", "non-empty array of task names"),
    ("[]", "models[0].tasks", "non-empty array of task names"),
    ('["narma10", 1]', "models[0].tasks[1]", "non-empty string"),
    ('["narma10", "narma10"]', "models[0].tasks[1]", "duplicate task name"),
])
def test_config_model_tasks_errors_name_the_key(tmp_path, value, key, words):
    text = GOOD.replace('params = { units = 300, spectral_radius = 0.9 }',
                        f'params = {{ units = 300, spectral_radius = 0.9 }}\ntasks = {value}')
    path = _cfg(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}:"), msg
    assert words in msg


def test_a_shared_worker_failure_gives_every_run_the_same_short_traceback():
    """A broken process pool fails every pending future with one exception object; the
    traceback recorded for each run must not grow with the ones recorded before it."""
    from concurrent.futures import Future, wait

    from neurorec.experiment.executors import _run_bounded

    boom = RuntimeError("worker died")
    job = {"run_key": "k", "model": {"name": "m", "cls": object}, "seed": 0,
           "task": {"name": "t", "kind": "forecast", "metric": "mse", "higher_is_better": False}}
    def submit(job):
        f = Future()
        f.set_exception(boom)
        return f

    jobs = [dict(job, run_key=f"k{i}") for i in range(4)]
    results = list(_run_bounded(jobs, submit, lambda fs: wait(fs).done, lambda: 4))
    lengths = {len(r["traceback"].splitlines()) for r in results}
    assert len(results) == 4 and len(lengths) == 1, lengths
    assert all(r["status"] == "error" and r["error"] == "RuntimeError: worker died" for r in results)


# ------------------------------------------------------------------------------------------
# energy per inference (issue 12): operation counts in the runs, energy rows, table and plot
# ------------------------------------------------------------------------------------------

# invented figures (pJ) for the arithmetic, not chip data
MAC_PROFILE = {"name": "macs", "kind": "mac", "energy_per_mac_pj": 4.6, "energy_per_add_pj": 0.9,
               "energy_per_memory_access_pj": 5.0}
NEURO_PROFILE = {"name": "neuro", "kind": "neuromorphic", "energy_per_synop_pj": 23.6,
                 "energy_per_neuron_update_pj": 52.0, "energy_per_spike_pj": None}
AR_PJ = 10 * 4.6 + 5 * 0.9 + 35 * 5.0   # LinearAR(delays=2) on ToyForecast, counted by hand below


def _energy_grid(**kw):
    from neurorec.models import LinearAR

    return compare({"AR": LinearAR(delays=2), "const": S.ConstModel(offset=1.0)}, [S.ToyForecast()], [0, 1],
                   progress=False, **kw)


def test_compare_adds_operation_counts_and_energy_rows_for_the_profiles():
    plain = _energy_grid()
    assert not plain.metric.str.startswith(("ops_", "energy_")).any()    # off by default
    df = _energy_grid(energy_profiles=[MAC_PROFILE, NEURO_PROFILE])
    # the scores are the same rows as without energy
    scores = df[~df.metric.str.startswith(("ops_", "energy_"))].reset_index(drop=True)
    pd.testing.assert_frame_equal(scores.drop(columns=["fit_seconds", "predict_seconds", "peak_memory_mb"]),
                                  plain.drop(columns=["fit_seconds", "predict_seconds", "peak_memory_mb"]))
    ar = df[(df.model == "AR") & (df.seed == 1)]
    ops = dict(zip(ar.metric, ar.value, strict=True))
    # LinearAR, 2 delays, 1 feature, 1 output, 5 steps: per step 2 MACs, 1 addition and
    # 2 + 1 (parameters) + 2 (window) + 1 (delay line) + 1 (output) memory accesses
    assert (ops["ops_macs"], ops["ops_additions"], ops["ops_memory_accesses"]) == (10, 5, 35)
    assert ops["ops_synops"] == ops["ops_neuron_updates"] == 0
    assert ops["energy_macs_J"] == pytest.approx(AR_PJ * 1e-12)
    assert math.isnan(ops["energy_neuro_J"])           # a classical model on a neuromorphic chip
    assert set(ar[ar.metric.str.startswith(("ops_", "energy_"))].split) == {"test"}
    assert (ar[ar.metric.str.startswith("energy_")].higher_is_better == False).all()  # noqa: E712
    # a model without an operation model gets no cost rows, and its run stays ok
    const = df[df.model == "const"]
    assert set(const.metric) == {"mae"} and (const.status == "ok").all()


def test_spiking_model_in_compare_is_counted_from_its_test_prediction():
    pytest.importorskip("torch")
    from neurorec.models import SpikingClassifier

    df = compare({"SNN": SpikingClassifier(hidden=8, epochs=1, backend="numpy")}, [S.ToyClassify()], [0],
                 progress=False, energy_profiles=[NEURO_PROFILE])
    row = dict(zip(df.metric, df.value, strict=True))
    # 8 hidden + 2 output neurons (one class seen: 1 output) x 3 steps of the toy sequences
    n_out = 1
    assert row["ops_neuron_updates"] == (8 + n_out) * 3
    assert row["ops_synops"] == df.synops.iloc[0]
    assert row["energy_neuro_J"] == pytest.approx((row["ops_synops"] * 23.6 + row["ops_neuron_updates"] * 52.0)
                                                  * 1e-12)


def test_energy_is_priced_from_stored_counts_and_old_runs_have_none(tmp_path):
    from neurorec.experiment import add_energy

    db = tmp_path / "r.sqlite"
    _energy_grid(store=db)                                    # stored without counting
    resumed = _energy_grid(store=db, energy_profiles=[MAC_PROFILE])
    assert not resumed.metric.str.startswith(("ops_", "energy_")).any()
    fresh = _energy_grid(store=db, energy_profiles=[MAC_PROFILE], resume=False)
    stored = SQLiteStore(db).to_dataframe()
    assert stored.metric.str.startswith("ops_").any() and not stored.metric.str.startswith("energy_").any()
    again = add_energy(stored, [MAC_PROFILE, NEURO_PROFILE])
    e = again[(again.model == "AR") & (again.metric == "energy_macs_J")]
    assert list(e.value) == pytest.approx([AR_PJ * 1e-12] * 2)
    assert list(e.value) == list(fresh[(fresh.model == "AR") & (fresh.metric == "energy_macs_J")].value)
    # each energy row follows its own run's rows
    keys = list(again.run_key)
    assert keys == sorted(keys, key=list(dict.fromkeys(keys)).index)
    # a resumed grid with another profile list prices the stored counts again, without re-running
    S.FIT_CALLS.clear()
    other = _energy_grid(store=db, energy_profiles=[NEURO_PROFILE])
    assert S.FIT_CALLS == [] and set(other.metric[other.metric.str.startswith("energy_")]) == {"energy_neuro_J"}


def test_unknown_energy_profile_fails_before_running():
    pytest.importorskip("neurorec.hardware.chips")
    with pytest.raises(SpecError, match="nosuchchip"):
        _energy_grid(energy_profiles=["nosuchchip"])
    assert S.FIT_CALLS == []
    with pytest.raises(SpecError, match="named twice"):
        _energy_grid(energy_profiles=[MAC_PROFILE, MAC_PROFILE])


def test_summary_table_shows_energy_per_inference():
    df = _energy_grid(energy_profiles=[MAC_PROFILE, NEURO_PROFILE])
    s = summarize(df)
    ar = s[s.model == "AR"].iloc[0]
    assert ar["mean"] == pytest.approx(0.5) and ar["n_ok"] == 2     # the score, not a cost row
    assert ar["family"] == "classical" and ar["energy_macs_J"] == pytest.approx(AR_PJ * 1e-12)
    assert math.isnan(ar["energy_neuro_J"])
    text = format_summary(df)
    block = text.split("energy per inference")[1]
    assert "226 pJ" in block and "n/a" in block
    assert "0.5±0" in text.split("energy per inference")[0]
    # a frame without energy rows keeps the old summary
    assert "energy per inference" not in format_summary(_energy_grid())


def test_pareto_front_by_hand():
    from neurorec.experiment import pareto_front

    energy = [1.0, 2.0, 3.0, 4.0, np.nan, 2.0]
    score = [0.5, 0.7, 0.6, 0.9, 1.0, 0.7]
    # 3.0/0.6 is beaten by 2.0/0.7; the NaN point is never on the front; ties both stay
    assert list(pareto_front(energy, score)) == [True, True, False, True, False, True]
    # lower is better: 1.0/0.5 dominates every costlier point with a higher (worse) score
    assert list(pareto_front(energy[:4], score[:4], higher_is_better=False)) == [True, False, False, False]


def test_plot_energy_writes_score_against_energy_with_the_pareto_front(tmp_path):
    from neurorec.experiment import plot_energy

    df = _energy_grid(energy_profiles=[MAC_PROFILE, NEURO_PROFILE])
    png = tmp_path / "energy.png"
    fig = plot_energy(df, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_title().startswith("toy_forecast")
    assert "energy per inference" in ax.get_xlabel()
    # no estimates at all: a figure that says so
    empty = plot_energy(_energy_grid(), tmp_path / "none.png")
    assert "no energy estimates" in empty.axes[0].texts[0].get_text()


def test_config_energy_profiles(tmp_path):
    from neurorec.experiment import energy_profiles

    assert energy_profiles(load_config(_cfg(tmp_path, GOOD))) == ["cmos45", "loihi"]    # the default
    text = GOOD.replace('name = "demo"', 'name = "demo"\nenergy_profiles = ["loihi2"]')
    cfg = load_config(_cfg(tmp_path, text))
    assert cfg["experiment"]["energy_profiles"] == ["loihi2"] and energy_profiles(cfg) == ["loihi2"]
    assert cfg["experiment"]["name"] == "demo"
    off = load_config(_cfg(tmp_path, GOOD.replace('name = "demo"', 'name = "demo"\nenergy_profiles = []')))
    assert energy_profiles(off) == []
    for value, key, words in [('"loihi"', "experiment.energy_profiles", "array of profile names"),
                              ('["loihi", "loihi"]', "experiment.energy_profiles[1]", "duplicate"),
                              ('["loihi", 3]', "experiment.energy_profiles[1]", "string")]:
        path = _cfg(tmp_path, GOOD.replace('name = "demo"', f'name = "demo"\nenergy_profiles = {value}'))
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value).startswith(f"{path}: {key}:") and words in str(info.value)
    assert energy_profiles(load_config(default_config_path())) == ["cmos45", "loihi"]
