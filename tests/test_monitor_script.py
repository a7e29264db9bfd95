"""Smoke test of experiments/monitor_drift.py --quick (about 10 s; marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow       # a script subprocess of about 10 s: in the slow step, with the other script smoke tests
def test_monitor_drift_quick(tmp_path):
    pytest.importorskip("river")
    pytest.importorskip("matplotlib")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / "monitor_drift.py"), "--quick", "--out",
                          str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads((tmp_path / "monitor_drift.json").read_text())
    rows = out["rows"]
    assert len(rows) == 6                                   # 3 series x 2 detectors x 1 seed
    assert {r["series"] for r in rows} == {"sines", "sines_small", "mackey_glass"}
    assert {r["detector"] for r in rows} == {"adwin", "page_hinkley"}
    for r in rows:
        assert r["false_alarms"] >= 0 and r["error_tail"] > 0 and r["error_tail_adapted"] > 0
        assert all(isinstance(a, int) for a in r["alarms"])
    big = [r for r in rows if r["series"] in ("sines", "mackey_glass")]
    assert all(r["delay"] is not None and r["delay"] < 200 for r in big)    # the large changes are found
    assert "| series | detector |" in res.stdout
