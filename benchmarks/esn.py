"""ESN speed: neurorec against reservoirpy on the same reservoir, in one run.

A 1000-unit reservoir (recurrent connectivity 0.1, leak 0.3, spectral radius 1.25) is drawn
by reservoirpy and copied into neurorec (``ESN.from_reservoirpy``), so both simulate the same
weights. Measured, with BLAS/OpenMP/torch threads pinned to ``--threads`` for both:

* single: one Mackey-Glass sequence of ``--steps`` steps (state harvesting, steps/s);
* batch64: 64 sequences of 1,000 steps (sequence-steps/s; reservoirpy runs them in turn);
* the one-step-ahead NRMSE of both after a ridge fit on the same split, to show the
  speed is not bought with accuracy;
* NVAR (next-generation RC, delay 2, quadratic monomials): the feature vectors of the single
  sequence and of the 64 sequences, reservoirpy's ``NVAR`` node against ``neurorec.models.NVAR``,
  and their largest difference;
* with a CUDA device: the torch backend on 64 and 1,024 sequences of 1,000 steps.

The last line printed is one JSON object with ``ratio_single``, ``ratio_batch64``,
``ratio_nvar_single`` and ``ratio_nvar_batch64`` (neurorec throughput / reservoirpy throughput). Usage::

    python benchmarks/esn.py [--threads N] [--steps 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


def _race(fns: dict, repeats: int) -> dict:
    """Best wall time of each function over ``repeats`` rounds, the functions taking turns
    within each round, so that a slow spell of a shared machine hits all of them alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def progress(msg: str) -> None:
    """One progress line on stderr, flushed at once (stdout keeps the table and the final JSON line)."""
    print(f"[esn] {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    _pin_threads(args.threads)

    import numpy as np
    import reservoirpy
    from reservoirpy.nodes import Reservoir, Ridge

    from neurorec.data import mackey_glass
    from neurorec.metrics import nrmse
    from neurorec.models import ESN

    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None

    T, N = args.steps, args.units
    series = mackey_glass(T + 64 * 1000 + 2, seed=0)
    series = ((series - series.mean()) / series.std()).astype(np.float64)
    X, Y = series[:T], series[1:T + 1]

    reservoir = Reservoir(N, lr=0.3, sr=1.25, rc_connectivity=0.1, input_connectivity=1.0,
                          input_scaling=1.0, seed=42)
    reservoir.run(X[:2])  # draw the weights
    reservoir.reset()
    esn = ESN.from_reservoirpy(reservoir, ridge=1e-8, washout=100, dtype="float32")

    progress(f"reservoir of {N} units drawn; timing {T} steps, {args.repeats} repeats, {args.threads} threads")
    rows = []

    def record(name, engine, seq_steps, seconds, **extra):
        rows.append({"case": name, "engine": engine, "seq_steps_per_s": seq_steps / seconds,
                     "seconds": seconds, **extra})
        progress(f"{name} / {engine}: {seq_steps / seconds:,.0f} seq-steps/s ({seconds:.3f} s)")

    # --- single sequence -------------------------------------------------------------
    def rpy_single():
        reservoir.reset()
        reservoir.run(X)

    rpy_name = f"reservoirpy {reservoirpy.__version__} (float64)"
    esn64 = ESN.from_reservoirpy(reservoir, ridge=1e-8, washout=100, dtype="float64")
    single = {rpy_name: rpy_single,
              "neurorec numpy float32": lambda: esn.transform(X),
              "neurorec numpy float64": lambda: esn64.transform(X)}
    if torch is not None:
        esn_t = ESN.from_reservoirpy(reservoir, ridge=1e-8, washout=100, backend="torch")
        single["neurorec torch-cpu float32"] = lambda: esn_t.transform(X)
    for fn in single.values():       # warm caches and lazy imports
        fn()
    for name, secs in _race(single, args.repeats).items():
        record("single", name, T, secs)

    # --- batch of 64 sequences ----------------------------------------------------------
    B, L = 64, 1000
    Xb = np.stack([series[T + i * L: T + (i + 1) * L] for i in range(B)])

    def rpy_batch():
        reservoir.reset()
        reservoir.run(Xb)   # reservoirpy runs a 3-D batch sequence by sequence

    batch = {rpy_name: rpy_batch, "neurorec numpy float32": lambda: esn.transform(Xb)}
    if torch is not None:
        batch["neurorec torch-cpu float32"] = lambda: esn_t.transform(Xb)
    for name, secs in _race(batch, max(1, args.repeats - 2)).items():
        record("batch64", name, B * L, secs)

    # --- accuracy on the same split --------------------------------------------------
    split = int(0.8 * T)
    model = reservoir >> Ridge(ridge=1e-8)
    reservoir.reset()
    model.fit(X[:split], Y[:split], warmup=100)
    reservoir.reset()
    pred_r = model.run(X)[split:]
    esn.fit(X[:split], Y[:split])
    pred_n = esn.predict(X)[split:]
    err_r, err_n = nrmse(Y[split:], pred_r), nrmse(Y[split:], pred_n)
    progress(f"accuracy: one-step NRMSE neurorec {err_n:.2e}, reservoirpy {err_r:.2e}")

    # --- NVAR (next-generation RC): features of the same series -----------------------------
    from reservoirpy.nodes import NVAR as RNVAR

    from neurorec.models import NVAR

    nvar = NVAR(delay=2, strides=1, order=2, dtype="float64").fit(X[:200], Y[:200])
    rnvar = RNVAR(delay=2, order=2, strides=1)
    rnvar.run(X[:2])
    nvar_single = {rpy_name: lambda: rnvar.run(X), "neurorec numpy float64": lambda: nvar.transform(X)}
    nvar_batch = {rpy_name: lambda: rnvar.run(Xb), "neurorec numpy float64": lambda: nvar.transform(Xb)}
    for name, secs in _race(nvar_single, args.repeats).items():
        record("nvar single", name, T, secs)
    for name, secs in _race(nvar_batch, max(1, args.repeats - 2)).items():
        record("nvar batch64", name, B * L, secs)
    # a fresh node: reservoirpy's reset() leaves the NVAR's window of past inputs as it was
    nvar_agree = float(np.abs(np.asarray(RNVAR(delay=2, order=2, strides=1).run(X)) - nvar.transform(X)).max())
    progress(f"NVAR features: largest difference from reservoirpy's {nvar_agree:.1e}")

    # --- CUDA ---------------------------------------------------------------------------
    cuda = {}
    if torch is not None and torch.cuda.is_available():
        esn_c = ESN.from_reservoirpy(reservoir, backend="torch", device="cuda")
        for b in (64, 1024):
            Xc = np.random.default_rng(0).uniform(-1, 1, (b, 1000, 1)).astype(np.float32)
            esn_c.transform(Xc[:, :20])

            def run_cuda(Xc=Xc):
                esn_c.transform(Xc)
                torch.cuda.synchronize()

            secs = _race({"cuda": run_cuda}, args.repeats)["cuda"]
            record(f"cuda batch{b}", f"neurorec torch {torch.cuda.get_device_name()}", b * 1000, secs)
            cuda[f"cuda_seq_steps_per_s_{b}"] = b * 1000 / secs

    def rate(case, prefix):
        return next(r["seq_steps_per_s"] for r in rows if r["case"] == case and r["engine"].startswith(prefix))

    result = {
        "benchmark": "esn",
        "units": N,
        "steps": T,
        "threads": args.threads,
        "ratio_single": rate("single", "neurorec numpy float32") / rate("single", "reservoirpy"),
        "ratio_batch64": rate("batch64", "neurorec numpy float32") / rate("batch64", "reservoirpy"),
        "ratio_nvar_single": rate("nvar single", "neurorec") / rate("nvar single", "reservoirpy"),
        "ratio_nvar_batch64": rate("nvar batch64", "neurorec") / rate("nvar batch64", "reservoirpy"),
        "nvar_max_abs_difference": nvar_agree,
        "nrmse_neurorec": err_n,
        "nrmse_reservoirpy": err_r,
        **cuda,
    }
    print(f"{'case':<14}{'engine':<42}{'seq-steps/s':>14}{'seconds':>10}")
    for r in rows:
        print(f"{r['case']:<14}{r['engine']:<42}{r['seq_steps_per_s']:>14,.0f}{r['seconds']:>10.3f}")
    print(f"one-step NRMSE on the last 20%: neurorec {err_n:.2e}, reservoirpy {err_r:.2e}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
