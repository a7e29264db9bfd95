"""Smoke test of benchmarks/snn_gpu.py: its --quick run ends with one JSON line carrying the ratios."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("snntorch")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "snn_gpu.py"


@pytest.mark.timeout(60)
def test_quick_run_prints_the_ratios_as_last_json_line():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--device", "cpu"], capture_output=True,
                          text=True, env=env, timeout=30, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["benchmark"] == "snn_gpu" and result["device"] == "cpu" and result["quick"] is True
    assert result["speedup_vs_snntorch"] > 0
    for key in ("speedup_vs_snntorch_layerwise", "speedup_vs_snntorch_lif_only", "fused_vs_floor",
                "on_fp32_vs_floor", "on_bf16_vs_floor"):
        assert result[key] > 0, key
    # the equality check ran before the timing, on every float32 network
    checks = [v for k, v in result.items() if k.startswith("check_")]
    assert len(checks) == 3 and all(sum(c["spike_counts"]) > 0 for c in checks)
