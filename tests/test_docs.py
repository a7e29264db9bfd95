"""Docs that run: every ```python block of README.md, experiments/README.md and the documentation
site's pages (docs/**/*.md), run as written.

Each block runs in a fresh interpreter (``python -c BLOCK``) with a temporary folder as working
directory (files a block writes land there) and one BLAS/OpenMP thread. A block identical to an
earlier one (the README's first example is also on the site) runs once, under its first id. The
blocks that take longer than about 7 s alone are in ``SLOW`` with the reason and run with
``pytest -m slow`` (and in ``.ci/run``'s slow step); the rest are in the default suite.

Also here: the one-line notice before brian2's first Cython build of a process, and the progress
lines of ``benchmarks/esn.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "experiments/README.md",
        *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)

# block id -> why it is slow (timed in a full default-suite run, one core per block; the others take
# 1-7 s, up to 20 s on a busy machine). Moved here to keep the default suite under 10 minutes.
SLOW = {
    "docs/experiments/tune.md#0: from neurorec.experiment import tune": "an Optuna study of ESN trials (13 s)",
    "docs/models/recurrent.md#0: from neurorec.data import get_task": "an LSTM and a GRU trained by gradient "
                                                                     "descent (9 s)",
    "docs/models/temporal.md#0: from neurorec.data import get_task": "the history compressor's Elman levels "
                                                                    "trained on long_lag (8 s)",
    "docs/models/spiking.md#0: import numpy as np": "brian2 Cython build and run of a 3-population network (65 s "
                                                   "here; minutes in a fresh environment without brian2's cache)",
    "docs/models/hebbian.md#1: import numpy as np": "200 s of simulated STDP learning with 1,000 Poisson inputs in "
                                                   "brian2 (131 s here, Cython cache warm)",
}


def _blocks(dedupe: bool = True):
    out, seen = [], set()
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for index, m in enumerate(FENCE.finditer(text)):
            code = m.group(1)
            first = code.strip().splitlines()[0].strip()
            if dedupe and code in seen:
                continue
            seen.add(code)
            out.append((f"{doc}#{index}: {first}", code))
    return out


BLOCKS = _blocks()


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _params():
    return [pytest.param(code, id=bid, marks=[pytest.mark.slow] if bid in SLOW else [])
            for bid, code in BLOCKS]


def test_blocks_found():
    """The extraction sees the README's and the site's blocks, and every slow entry names a block
    that exists."""
    ids = [bid for bid, _ in _blocks(dedupe=False)]
    assert sum(bid.startswith("README.md#") for bid in ids) >= 1, ids
    pages = {bid.split("#")[0] for bid in ids if bid.startswith("docs/")}
    for page in ("getting-started", "models/reservoirs", "models/spiking", "models/hopfield", "models/hebbian",
                 "models/temporal", "models/recurrent", "models/anomaly", "tasks", "experiments/config", "hardware"):
        assert f"docs/{page}.md" in pages, (page, sorted(pages))
    assert set(SLOW) <= {bid for bid, _ in BLOCKS}, sorted(set(SLOW) - {bid for bid, _ in BLOCKS})


@pytest.mark.parametrize("code", _params())
def test_doc_block_runs(code, tmp_path):
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True,
                       text=True, timeout=1800)
    assert r.returncode == 0, f"block failed (exit {r.returncode}):\n{code}\n--- stderr ---\n{r.stderr[-4000:]}"


# ------------------------------------------------------------------ brian2: one line before compiling
_NOTICE = "brian2 is compiling its Cython code"


def test_brian2_compile_notice_once_per_process():
    pytest.importorskip("brian2")
    code = ("from neurorec.backends import brian2 as nb\n"
            "nb._codeobj_class('numpy')\n"           # no compilation: no notice
            "import sys; print('--numpy done--', file=sys.stderr, flush=True)\n"
            "nb._codeobj_class('cython')\n"
            "nb._codeobj_class('cython')\n"
            "print(nb.cython_cache_dir())\n")
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    before, after = r.stderr.split("--numpy done--")
    assert _NOTICE not in before
    lines = [ln for ln in after.splitlines() if _NOTICE in ln]
    assert len(lines) == 1, r.stderr
    cache = r.stdout.strip().splitlines()[-1]
    assert cache and cache in lines[0]              # says where the cache lives


def test_brian2_cache_dir_follows_prefs():
    b2 = pytest.importorskip("brian2")
    from neurorec.backends.brian2 import cython_cache_dir

    old = b2.prefs.codegen.runtime.cython.cache_dir
    try:
        b2.prefs.codegen.runtime.cython.cache_dir = "/somewhere/brian_cache"
        assert cython_cache_dir() == "/somewhere/brian_cache"
    finally:
        b2.prefs.codegen.runtime.cython.cache_dir = old
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    assert cython_cache_dir() == get_cython_cache_dir()    # by default Cython's cache dir + brian_extensions


# ------------------------------------------------------------------ benchmarks/esn.py: progress
def test_esn_benchmark_prints_progress_and_ends_with_json():
    pytest.importorskip("reservoirpy")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "esn.py"), "--threads", "1", "--steps", "300",
                        "--units", "30", "--repeats", "1"], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])       # the last line is still the JSON object
    assert result["benchmark"] == "esn" and result["ratio_single"] > 0 and result["ratio_batch64"] > 0
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("[esn] ")]
    for case in ("single", "batch64"):
        engines = [ln for ln in progress if ln.startswith(f"[esn] {case} / ")]
        assert len(engines) >= 3 and any("reservoirpy" in ln for ln in engines), progress
    assert any("accuracy" in ln for ln in progress), progress
