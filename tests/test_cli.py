"""The ``neurorec`` command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import _standins as S
import pandas as pd
import pytest

from neurorec.cli import main

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PNG = b"\x89PNG\r\n\x1a\n"

CONFIG = """
[experiment]
name = "toy"
seeds = [0, 1]

[[models]]
name = "const"
class = "_standins:ConstModel"
params = {{ offset = 1.0{extra} }}

[[models]]
name = "forecast_only"
class = "_standins:ForecastOnly"

[[tasks]]
name = "toy_forecast"
class = "_standins:ToyForecast"

[[tasks]]
name = "toy_classify"
class = "_standins:ToyClassify"
"""


@pytest.fixture(autouse=True)
def _clear_calls():
    S.FIT_CALLS.clear()
    yield
    S.FIT_CALLS.clear()


def _config(tmp_path, extra="", name="toy.toml") -> Path:
    p = tmp_path / name
    p.write_text(CONFIG.format(extra=extra))
    return p


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(ROOT),
                                                    env.get("PYTHONPATH", "")) if p)
    return env


def test_compare_writes_store_csv_plot_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    csv = pd.read_csv(out / "results.csv")
    # 2 models x 2 tasks x 2 seeds x (val, test)
    assert len(csv) == 16
    assert set(csv.status) == {"ok", "skipped"}
    assert (csv[csv.model == "forecast_only"].task.eq("toy_classify")
            == csv[csv.model == "forecast_only"].status.eq("skipped")).all()
    test = csv[(csv.model == "const") & (csv.task == "toy_forecast") & (csv.split == "test")]
    assert sorted(test.value.round(6)) == [0.5, 0.6]
    assert (out / "summary.png").read_bytes()[:8] == PNG
    con = sqlite3.connect(out / "results.sqlite")
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 6  # skips are not stored
    con.close()
    assert "0.55±0.071" in stdout  # const on toy_forecast, test
    assert "8 runs: 6 ok, 2 skipped, 0 errors" in stdout
    assert str(out / "results.csv") in stdout and str(out / "summary.png") in stdout
    assert len(S.FIT_CALLS) == 6
    # the temporal order of each task's inputs (MultiOrderMarkov's likelihood-ratio tests)
    orders = pd.read_csv(out / "temporal_order.csv")
    assert sorted(set(orders.task)) == ["toy_classify", "toy_forecast"] and set(orders.seed) == {0, 1}
    assert orders.order.between(0, 3).all()
    assert "Temporal memory of each task's inputs" in stdout

    # a second call resumes: nothing is fitted again, same table
    S.FIT_CALLS.clear()
    assert main(["compare", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    assert S.FIT_CALLS == []
    again = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(csv, again)


def test_compare_reports_the_runs_warnings_once_at_the_end(tmp_path, capfd):
    out = tmp_path / "out"
    cfg = _config(tmp_path, extra=', warn = "the toy model is a toy"')
    assert main(["compare", str(cfg), "--out", str(out), "--no-progress"]) == 0
    captured = capfd.readouterr()
    assert "the toy model is a toy" not in captured.err          # not among the progress lines
    tail = captured.out.partition(" runs: ")[2]
    assert tail.count("UserWarning: the toy model is a toy") == 1
    assert "(4 runs: const / toy_forecast / seed 0, const / toy_forecast / seed 1 and 2 more)" in tail


def test_compare_show_reprints_a_store_without_running(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    first = capsys.readouterr().out
    csv = (out / "results.csv").read_bytes()
    S.FIT_CALLS.clear()
    assert main(["compare", "--show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert S.FIT_CALLS == []
    table = first.split("test score")[1].split("not run (-)")[0]
    assert table == shown.split("test score")[1].split("runs:")[0][:len(table)]   # the same tables
    # (the store keeps no skipped runs: --show cannot list why a model did not run)
    assert main(["compare", "--show", str(out), "--models", "const", "--tasks", "toy_forecast"]) == 0
    shown = capsys.readouterr().out
    assert "toy_classify" not in shown and "forecast_only" not in shown and "const" in shown
    assert (out / "summary_filtered.png").read_bytes()[:8] == PNG and (out / "cost_filtered.png").exists()
    assert (out / "results.csv").read_bytes() == csv                     # never rewritten by --show
    assert main(["compare", "--show", str(out), "--models", "nope"]) == 2
    assert "--models: ['nope'] not in" in capsys.readouterr().err
    assert main(["compare", "--show", str(tmp_path / "empty")]) == 2
    assert "holds no results.sqlite" in capsys.readouterr().err
    assert main(["compare", str(_config(tmp_path)), "--models", "const"]) == 2


def test_compare_exits_1_when_a_run_errors_but_writes_everything(tmp_path, capsys):
    out = tmp_path / "out"
    cfg = _config(tmp_path, extra=", fail_on_seed = 1")
    assert main(["compare", str(cfg), "--out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    csv = pd.read_csv(out / "results.csv")
    errors = csv[csv.status == "error"]
    assert set(errors.model) == {"const"} and set(errors.seed) == {1} and len(errors) == 4
    assert (csv[(csv.status != "error")].status.isin(["ok", "skipped"])).all()
    assert (out / "summary.png").exists()
    assert "2 errors" in captured.out and "planned failure for seed 1" in captured.out
    assert "Traceback" in captured.err  # one traceback per failed run, on stderr
    assert captured.err.count("Traceback") == 2


def test_seeds_option_overrides_the_config(tmp_path):
    out = tmp_path / "out"
    assert main(["compare", str(_config(tmp_path)), "--out", str(out), "--no-progress",
                 "--seeds", "5", "7"]) == 0
    assert set(pd.read_csv(out / "results.csv").seed) == {5, 7}


def test_default_out_dir_is_results_slash_experiment_name(tmp_path, monkeypatch):
    cfg = _config(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(cfg), "--no-progress", "--jobs", "2"]) == 0
    assert (tmp_path / "results" / "toy" / "results.csv").exists()
    assert (tmp_path / "results" / "toy" / "results.sqlite").exists()


def test_progress_bar_names_the_run(tmp_path, capsys):
    assert main(["compare", str(_config(tmp_path)), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "8/8" in err and "seed 1" in err


@pytest.mark.parametrize("text, words", [
    ("[experiment]\nnmae = 'x'\n", "experiment.nmae: unknown key"),
    ("[[models]]\nclass = 'ESN'\n[[tasks]]\nname = 't'\n", "models[0].name: missing"),
    ("[experiment]\nseeds = 3\n", "experiment.seeds: expected a non-empty array"),
    ("this is not toml", "invalid TOML"),
])
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, text, words):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert main(["compare", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"neurorec: error: {cfg}: ")
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unresolvable_class_and_missing_file_exit_2(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(extra="").replace("_standins:ForecastOnly", "_standins:Nope"))
    assert main(["compare", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no class 'Nope'" in err and str(cfg) in err
    assert main(["compare", str(tmp_path / "missing.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    assert S.FIT_CALLS == []


def test_usage_errors_exit_2(capsys):
    assert main(["compare", "--jobs", "many"]) == 2
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert main(["compare", "x.toml", "--jobs", "0"]) == 2


def test_version(capsys):
    from neurorec import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"neurorec {__version__}"


def test_tasks_lists_the_registry(capsys):
    try:
        from neurorec.data import list_tasks
    except ImportError:
        pytest.skip("neurorec.data is not available")
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in list_tasks():
        assert name in out


def test_module_entry_point_starts_without_heavy_engines(tmp_path):
    code = ("import sys\n"
            "from neurorec.cli import main\n"
            "rc = main(['--version'])\n"
            "heavy = [m for m in ('torch', 'brian2', 'reservoirpy', 'snntorch', 'matplotlib',"
            " 'pandas', 'dask') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "0 []"
    res = subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", "nope.toml"],
                         capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("neurorec: error: nope.toml")
