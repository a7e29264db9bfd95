"""neurorec.experiment.tune: hyperparameter search with Optuna (spaces, objective, workers, resume,
pruning, plots, the store, the CLI)."""

from __future__ import annotations

import math
import os

import _standins as S
import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from neurorec.cli import main  # noqa: E402
from neurorec.experiment import SpecError, SQLiteStore, TuneError, compare, tune  # noqa: E402
from neurorec.experiment.spaces import resolve_space  # noqa: E402

CONST = "_standins:ConstModel"
OFFSET = {"offset": {"low": -1.0, "high": 1.0}}


def _const(**params):
    return {"name": "Const", "class": CONST, "params": params}


# ------------------------------------------------------------------------------------------
# stand-ins of this file (used in this process only)
# ------------------------------------------------------------------------------------------

SEEN: list[float] = []      # the largest input value of every predict call


class SpyModel(S.ConstModel):
    """ConstModel that records what it predicts on."""

    def predict(self, X):
        SEEN.append(float(np.max(np.asarray(X))))
        return super().predict(X)


class NaNModel(S.ConstModel):
    """Gives NaN predictions when offset > 0.5."""

    def predict(self, X):
        out = super().predict(X)
        return out * np.nan if self.offset > 0.5 else out


class DyingModel(S.ConstModel):
    """Kills the first worker process (not the parent) that fits it, once (``flag`` marks it)."""

    def __init__(self, offset: float = 1.0, seed=None, parent: int = 0, flag: str = ""):
        super().__init__(offset=offset, seed=seed)
        self.parent = parent
        self.flag = flag

    def fit(self, X, y):
        if os.getpid() != self.parent and not os.path.exists(self.flag):
            open(self.flag, "w").close()
            os._exit(3)
        return super().fit(X, y)


class _SpyData:
    def __init__(self, data, task):
        self.train, self.val, self._test, self._task = data.train, data.val, data.test, task

    @property
    def test(self):
        self._task.test_reads += 1
        return self._test


class SpyTask(S.ToyForecast):
    """ToyForecast whose test inputs are 7 (train and val: 1) and which counts reads of .test."""

    def __init__(self, name: str = "spy"):
        super().__init__(name)
        self.test_reads = 0

    def load(self, seed):
        d = super().load(seed)
        test = S.Split(np.full_like(d.test.X, 7.0), d.test.y, 0)
        return _SpyData(S.TaskData(d.train, d.val, test), self)


# ------------------------------------------------------------------------------------------
# search spaces
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("space, words", [
    ({"spectral_radiu": {"low": 0.1, "high": 1.0}}, ["spectral_radiu", "no parameter", "spectral_radius"]),
    ({"spectral_radius": {"low": 1.0, "high": 1.0}}, ["spectral_radius", "empty range", "low"]),
    ({"ridge": {"low": 0.0, "high": 1.0, "log": True}}, ["ridge", "log range needs low > 0"]),
    ({"activation": {"choices": []}}, ["activation", "choices is empty"]),
    ({"ridge": {"low": 1e-6, "hi": 1.0}}, ["ridge", "unknown key 'hi'"]),
    ({"leak_rate": {"low": 0.1, "high": 1.5}}, ["leak_rate", "ESN refuses leak_rate=1.5"]),
    ({"units": {"low": 10.5, "high": 100, "type": "int"}}, ["units", "integer low"]),
    ({"units": {"low": 10, "high": 100, "log": True, "step": 2}}, ["units", "step and log"]),
])
def test_bad_space_raises_one_line_before_any_trial(tmp_path, space, words):
    with pytest.raises(SpecError) as err:
        tune("ESN", "narma10", trials=3, space=space, out=tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg
    assert not (tmp_path / "tune.db").exists()       # nothing created, no trial run


def test_unknown_param_of_standin_fails_before_fit(tmp_path):
    S.FIT_CALLS.clear()
    with pytest.raises(SpecError, match="no parameter 'offsett'"):
        tune(_const(), S.ToyForecast(), trials=2, space={"offsett": {"low": 0, "high": 1}}, out=tmp_path)
    assert S.FIT_CALLS == []


def test_every_declared_space_is_valid():
    import neurorec.models as M

    declared = [getattr(M, n) for n in M.__all__ if getattr(getattr(M, n), "_search_space", None)]
    assert {c.__name__ for c in declared} >= {"ESN", "LSM", "SpikingClassifier", "LSTM", "GRU", "Elman", "Jordan",
                                              "Hopfield", "ModernHopfield"}
    for cls in declared:
        space = resolve_space(cls, cls().get_params(deep=False))
        assert space, cls
    assert resolve_space(M.ESN, M.ESN().get_params())["ridge"] == {
        "type": "float", "low": 1e-9, "high": 1e-1, "log": True, "step": None}
    units = resolve_space(M.LSTM, M.LSTM().get_params())["units"]
    assert units["type"] == "int" and units["log"]
    assert resolve_space(M.SpikingClassifier, M.SpikingClassifier().get_params())["encoder"]["type"] == "categorical"
    # an override replaces a declared range, None drops one, a new one is added
    sp = resolve_space(M.ESN, M.ESN().get_params(), {"ridge": None, "units": {"low": 50, "high": 500}})
    assert "ridge" not in sp and sp["units"]["type"] == "int"      # int from the default value's type


# ------------------------------------------------------------------------------------------
# the objective
# ------------------------------------------------------------------------------------------

def test_search_never_touches_the_test_split(tmp_path):
    SEEN.clear()
    task = SpyTask()
    res = tune({"name": "Spy", "class": SpyModel}, task, trials=4, space=OFFSET, out=tmp_path, test_seeds=())
    assert task.test_reads == 0
    assert SEEN == [1.0] * 4                         # one validation predict per trial, never test data
    assert len(res.test) == 0
    # the final evaluation (same study, no new trial) reads the test split once, in compare
    res = tune({"name": "Spy", "class": SpyModel}, task, trials=4, space=OFFSET, out=tmp_path, test_seeds=(0,))
    assert len(res.study.trials) == 4
    assert task.test_reads >= 1 and SEEN.count(7.0) == 1     # one test prediction, by compare's run


def test_tpe_finds_the_known_optimum(tmp_path):
    # ConstModel's validation MAE is |offset| (seed 0): the optimum is offset = 0
    res = tune(_const(), S.ToyForecast(), trials=30, space=OFFSET, out=tmp_path, seed=0)
    assert res.direction == "minimize"
    assert abs(res.best_params["offset"]) < 0.08
    assert res.best_value == pytest.approx(abs(res.best_params["offset"]), abs=1e-6)
    vals = [t.value for t in res.study.trials]
    assert res.best_value == min(vals)
    # the plots, as PNG files
    assert set(res.plots) == {"optimization_history", "slice"}      # one parameter: no importances
    for path in res.plots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res.trials_csv.stat().st_size > 0


def test_failed_and_nan_trials_are_failures_not_scores(tmp_path):
    res = tune({"name": "NaN", "class": NaNModel}, S.ToyForecast(), trials=10, space=OFFSET, out=tmp_path)
    states = {t.number: t.state.name for t in res.study.trials}
    assert "FAIL" in states.values() and "COMPLETE" in states.values()
    for t in res.study.trials:
        if t.params["offset"] > 0.5:
            assert t.state.name == "FAIL" and t.value is None and "is nan" in t.user_attrs["error"]
        else:
            assert t.state.name == "COMPLETE" and math.isfinite(t.value)
    assert res.best_params["offset"] <= 0.5
    # a model whose fit always raises: every trial fails, and tune says why
    with pytest.raises(TuneError, match="planned failure"):
        tune(_const(fail_on_seed=0), S.ToyForecast(), trials=2, space=OFFSET, out=tmp_path / "f")


# ------------------------------------------------------------------------------------------
# storage, workers, resume
# ------------------------------------------------------------------------------------------

def test_two_local_workers_share_one_sqlite_study(tmp_path):
    res = tune(_const(sleep=0.1), S.ToyForecast(), trials=7, space=OFFSET, n_jobs=2, out=tmp_path, test_seeds=())
    assert res.storage == f"sqlite:///{(tmp_path / 'tune.db').resolve()}"
    trials = res.study.trials
    assert len(trials) == 7 and all(t.state.name == "COMPLETE" for t in trials)
    workers = [t.user_attrs["worker"] for t in trials]
    here = f":{os.getpid()}"
    assert workers[0].endswith(here)                  # the base parameters' trial, run in this process
    assert len({w for w in workers if not w.endswith(here)}) == 2      # then two processes, one study
    assert sorted(t.number for t in trials) == list(range(7))
    assert len({t.params["offset"] for t in trials}) == 7   # each worker its own sampler seed


def test_a_dead_worker_is_replaced_and_the_total_kept(tmp_path):
    model = {"name": "Dying", "class": DyingModel, "params": {"parent": os.getpid(), "flag": str(tmp_path / "died")}}
    res = tune(model, S.ToyForecast(), trials=6, space=OFFSET, n_jobs=2, out=tmp_path, test_seeds=())
    assert (tmp_path / "died").exists()
    assert any("exit status 3" in e for e in res.errors)
    states = [t.state.name for t in res.study.trials]
    assert len(states) == 6 and states.count("FAIL") == 1 and states.count("COMPLETE") == 5


@pytest.mark.parametrize("storage", [None, "study.log"])
def test_a_study_resumes_to_the_total(tmp_path, storage):
    storage = None if storage is None else str(tmp_path / storage)
    kw = dict(space=OFFSET, out=tmp_path, storage=storage, test_seeds=())
    first = tune(_const(), S.ToyForecast(), trials=3, **kw)
    assert len(first.study.trials) == 3
    first_params = [t.params for t in first.study.trials]     # (the study reads its storage on access)
    again = tune(_const(), S.ToyForecast(), trials=5, **kw)
    assert len(again.study.trials) == 5 and again.counts["COMPLETE"] == 5
    assert [t.params for t in again.study.trials[:3]] == first_params
    # a trial left RUNNING by a killed worker is marked FAIL and counts towards the total
    again.study.ask()
    third = tune(_const(), S.ToyForecast(), trials=7, **kw)
    states = [t.state.name for t in third.study.trials]
    assert len(states) == 7 and states.count("FAIL") == 1 and states.count("COMPLETE") == 6
    assert "killed" in third.study.trials[5].user_attrs["error"]
    # a study made with other settings is refused
    with pytest.raises(SpecError, match="another space"):
        tune(_const(), S.ToyForecast(), trials=8, **{**kw, "space": {"offset": {"low": 0.0, "high": 1.0}}})


def test_tuned_row_lands_in_the_store_beside_the_untuned(tmp_path):
    db = tmp_path / "results.sqlite"
    task = S.ToyForecast()
    compare({"Const": {"class": CONST}}, [task], [0, 1], store=db, progress=False)
    res = tune(_const(), task, trials=6, space=OFFSET, out=tmp_path, test_seeds=(0, 1))
    assert res.store == db
    df = SQLiteStore(db).to_dataframe()
    test = df[df["split"] == "test"].set_index(["model", "seed"])["value"]
    assert set(test.index.get_level_values(0)) == {"Const", "Const-tuned"}
    b = res.best_params["offset"]
    # test targets are seed + 0.5, the tuned model predicts seed + offset (+ 0.1 * seed, its seed)
    assert test["Const-tuned", 0] == pytest.approx(abs(b - 0.5), abs=1e-6)
    assert test["Const", 0] == pytest.approx(0.5, abs=1e-6)
    assert res.test_score == pytest.approx(test.loc["Const-tuned"].mean())


# ------------------------------------------------------------------------------------------
# pruning (a gradient-trained model) and a real model end to end
# ------------------------------------------------------------------------------------------

def test_pruning_stops_a_bad_lstm_trial(tmp_path):
    pytest.importorskip("torch")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    study = optuna.create_study(storage=url, study_name="p", direction="maximize")
    study.enqueue_trial({"lr": 0.02})      # a good trial first, then one that cannot learn
    study.enqueue_trial({"lr": 1e-7})
    model = {"name": "LSTM", "class": "LSTM",
             "params": {"units": 8, "epochs": 4, "early_stopping": False, "lr_schedule": None, "batch_size": 64}}
    res = tune(model, "digits", trials=2, storage=url, study_name="p", out=tmp_path,
               space={"units": None, "dropout": None, "weight_decay": None,
                      "lr": {"low": 1e-8, "high": 0.1, "log": True}},
               pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0), test_seeds=())
    good, bad = res.study.trials
    assert good.state.name == "COMPLETE" and len(good.intermediate_values) == 4
    assert bad.state.name == "PRUNED" and len(bad.intermediate_values) < 4
    # accuracy is maximised, so the reported validation loss is negated
    assert all(v < 0 for v in good.intermediate_values.values())
    assert res.counts == {"COMPLETE": 1, "PRUNED": 1, "FAIL": 0}


def test_esn_default_space_end_to_end(tmp_path):
    res = tune("ESN", "narma10", trials=5, out=tmp_path)
    assert set(res.best_params) == {"spectral_radius", "leak_rate", "input_scaling", "ridge", "bias_scaling",
                                    "connectivity"}
    assert set(res.plots) == {"optimization_history", "slice", "param_importances"}
    assert res.test["model"].eq("ESN-tuned").all() and math.isfinite(res.test_score)
    assert (tmp_path / "results.sqlite").exists() and (tmp_path / "tune.db").exists()


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------

def _cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("argv, words", [
    (["NoSuchModel", "narma10"], ["NoSuchModel"]),
    (["ESN", "no_such_task"], ["no_such_task"]),
    (["ESN", "narma10", "--storage", "sqlite:////proc/no/such/dir/t.db"], ["cannot open or write", "/proc/no"]),
    (["ESN", "narma10", "--storage", "journal:///proc/no/such/dir/t.log"], ["cannot open or write"]),
    (["ESN", "narma10", "--storage", "results.txt"], ["results.txt"]),
    (["ESN", "narma10", "--trials", "0"], ["trials"]),
    (["ESN", "pattern_recall"], ["does not run on 'recall'"]),
    (["ESN"], ["give TASK"]),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, words):
    code, out, err = _cli(capsys, "tune", *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurorec: error:"), err
    for w in words:
        assert w in lines[0]


def test_cli_bad_space_in_config(tmp_path, capsys):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[tune]\ntrials = 2\n[tune.space.leak_rate]\nlow = 0.5\nhigh = 0.5\n')
    code, _, err = _cli(capsys, "tune", "ESN", "narma10", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "leak_rate" in err and "empty range" in err
    cfg.write_text('[tune]\ntrials = 2\nbogus = 1\n')
    code, _, err = _cli(capsys, "tune", "ESN", "narma10", "--config", str(cfg))
    assert code == 2 and "tune.bogus" in err and len(err.strip().splitlines()) == 1


def test_cli_tunes_from_a_config(tmp_path, capsys):
    cfg = tmp_path / "t.toml"
    cfg.write_text(f"""
[tune]
trials = 6
seeds = [0, 1]
exclude = []
[tune.space.offset]
low = -1.0
high = 1.0

[[models]]
name = "Const"
class = "{CONST}"

[[tasks]]
name = "toy"
class = "_standins:ToyForecast"
""")
    out = tmp_path / "o"
    code, stdout, _ = _cli(capsys, "tune", "--config", str(cfg), "--out", str(out), "--study", "s1", "--no-progress")
    assert code == 0, stdout
    assert "offset = " in stdout and "best validation mae" in stdout and "test mae of Const-tuned" in stdout
    assert "seed 1:" in stdout and str(out / "results.sqlite") in stdout
    assert (out / "optimization_history.png").exists() and (out / "tune.db").exists()
    # the same command resumes: 6 more trials requested in all -> none run
    code, stdout, _ = _cli(capsys, "tune", "--config", str(cfg), "--out", str(out), "--study", "s1",
                           "--no-progress", "--trials", "8")
    assert code == 0 and "8 trials" in stdout


def test_dask_workers_share_the_study(tmp_path):
    pytest.importorskip("dask.distributed")
    res = tune(_const(), S.ToyForecast(), trials=8, space=OFFSET, n_jobs=2, executor="dask", out=tmp_path,
               storage=str(tmp_path / "study.log"), test_seeds=())
    trials = res.study.trials
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials) and not res.errors
    here = f":{os.getpid()}"
    # (Dask decides which of its workers runs each of the two tasks)
    assert {t.user_attrs["worker"] for t in trials} - {t.user_attrs["worker"] for t in trials[:1]}
    assert trials[0].user_attrs["worker"].endswith(here) and not trials[1].user_attrs["worker"].endswith(here)


def test_a_resumed_study_replaces_its_earlier_tuned_test_run(tmp_path):
    db = tmp_path / "results.sqlite"
    kw = dict(space=OFFSET, out=tmp_path, test_seeds=(0,))
    first = tune(_const(), S.ToyForecast(), trials=2, **kw)
    again = tune(_const(), S.ToyForecast(), trials=25, **kw)
    assert again.best_params != first.best_params      # (else the test proves nothing)
    with SQLiteStore(db) as s:
        tuned = [r for r in s.runs() if r["model"] == "Const-tuned"]
    assert len(tuned) == 1 and tuned[0]["run_key"] == again.test["run_key"].iloc[0]


def test_a_parameter_to_leave_out_that_is_not_searched_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"spectral_raduis.*did you mean spectral_radius"):
        tune("ESN", "narma10", trials=2, space={"spectral_raduis": None}, out=tmp_path, test_seeds=())
    assert not (tmp_path / "tune.db").exists()


def test_an_unreachable_scheduler_fails_before_any_trial(tmp_path):
    pytest.importorskip("dask.distributed")
    import socket

    from neurorec.experiment.executors import ExecutorError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import dask

    # Dask's connect timeout, which the executor follows: 2 s instead of its 30 s default
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(ExecutorError, match="cannot reach the Dask scheduler at .* within 2 s"):
        tune(_const(), S.ToyForecast(), trials=3, space=OFFSET, out=tmp_path, test_seeds=(),
             scheduler=f"tcp://127.0.0.1:{port}")
    study = optuna.load_study(study_name="Const-toy_forecast", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert [t.state.name for t in study.trials if t.state.name != "WAITING"] == []   # no trial ran
