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
* intrinsic plasticity: reservoirpy's ``IPReservoir`` against ``neurorec.models.IPESN`` on the
  same weights (300 units, or ``--units`` if fewer; tanh, Gaussian target), each doing the same
  work: 2 epochs of the IP rule, then a run of the adapted reservoir and a ridge readout on its
  states; on one sequence of up to 2,000 steps (``--steps`` if fewer) and on 16 sequences of a
  quarter of that (reservoirpy runs them in turn; neurorec's IP is one stream too, its run is
  batched), with the largest difference of the adapted gains;
* deep ESN: reservoirpy's ``Reservoir >> Reservoir`` (two reservoirs of ``units // 2``) against
  ``neurorec.models.DeepESN`` on the same weights, one sequence and 64, with the largest
  difference of the top layer's states;
* online readouts: reservoirpy's ``LMS`` and ``RLS`` nodes after a ``Reservoir`` and FORCE (``ESN(feedback=True)``
  with an RLS readout, Sussillo & Abbott's sum of sines) against ``neurorec.models.OnlineReservoir`` on the
  same weights (300 units, or ``--units`` if fewer), training step by step on one stream of up to 2,000 steps
  and on 64 streams of an eighth of that (reservoirpy trains on them in turn), with the largest readout
  weight difference after the same training;
* with a CUDA device: the torch backend on 64 and 1,024 sequences of 1,000 steps.

The last line printed is one JSON object with ``ratio_single``, ``ratio_batch64``,
``ratio_nvar_single``, ``ratio_nvar_batch64``, ``ratio_deep_single``, ``ratio_deep_batch64``,
``ratio_ip_single``, ``ratio_ip_batch16`` and
``ratio_{lms,rls,force}_{single,batch64}`` (``_float64``: neurorec in float64)
(neurorec throughput / reservoirpy throughput). Usage::

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


def _deep_case(args, X, Xb, record, rpy_name: str) -> float:
    """Two reservoirs of ``units // 2`` in series: reservoirpy's ``r1 >> r2`` (its states are the
    top layer's) against ``DeepESN.layer_states`` on the same weights, one sequence and 64.
    Returns the largest difference of the top layer's states."""
    import numpy as np
    from reservoirpy.nodes import Reservoir

    from neurorec.models import ESN, DeepESN

    n = max(2, args.units // 2)
    r1 = Reservoir(n, lr=0.3, sr=1.25, rc_connectivity=0.1, input_connectivity=1.0, seed=1)
    r2 = Reservoir(n, lr=0.3, sr=1.25, rc_connectivity=0.1, input_connectivity=1.0, input_scaling=0.5, seed=2)
    chain = r1 >> r2
    chain.run(X[:2])                                   # draw the weights
    deep = DeepESN(units=(n, n), leak_rate=0.3, dtype="float32", seed=0).fit(X[:50], X[1:51])
    weights = {}
    for i, r in enumerate((r1, r2)):
        e = ESN.from_reservoirpy(r)
        weights.update({f"W{i}": e.W_, f"W_in{i}": e.W_in_, f"bias{i}": e.bias_})
    deep.reservoirs_ = {k: v.astype(np.float32) for k, v in weights.items()}
    deep.__dict__.pop("_cache", None)

    def rpy(data):
        r1.reset()
        r2.reset()
        return chain.run(data)

    single = {rpy_name: lambda: rpy(X), "neurorec numpy float32": lambda: deep.layer_states(X)}
    batch = {rpy_name: lambda: rpy(Xb), "neurorec numpy float32": lambda: deep.layer_states(Xb)}
    for name, secs in _race(single, args.repeats).items():
        record("deep single", name, len(X), secs)
    for name, secs in _race(batch, max(1, args.repeats - 2)).items():
        record("deep batch64", name, Xb.shape[0] * Xb.shape[1], secs)
    agree = float(np.abs(np.asarray(rpy(X)) - deep.layer_states(X)[-1]).max())
    progress(f"deep ESN ({n} + {n} units): largest difference of the top layer's states from reservoirpy's "
             f"{agree:.1e} (float32)")
    return agree


def _ip_case(args, series, record, rpy_name: str) -> float:
    """Intrinsic plasticity, reservoirpy's ``IPReservoir`` against ``IPESN`` on the same weights:
    records the "ip single" and "ip batch16" cases; returns the largest difference of the gains."""
    import numpy as np
    from reservoirpy.nodes import IPReservoir, Ridge

    from neurorec.models import IPESN

    N, T, B = min(args.units, 300), min(args.steps, 2000), 16
    L = max(T // 4, 2)
    X, Y = series[:T], series[1:T + 1]
    Xb = np.stack([series[T + i * L: T + (i + 1) * L] for i in range(B)])
    Yb = np.stack([series[T + i * L + 1: T + (i + 1) * L + 1] for i in range(B)])
    ip = {"mu": 0.0, "sigma": 0.5, "epochs": 2, "learning_rate": 1e-3}
    draw = IPReservoir(N, sr=0.95, lr=1.0, input_connectivity=1.0, seed=42, **ip)
    draw.initialize(X[:2])
    W, Win, bias = draw.W, draw.Win, draw.bias

    def dense(a):
        return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)

    def rpy(x, y, warm):
        # a fresh node each time (fit adapts a and b in place): IP, then the adapted run and a ridge readout
        res = IPReservoir(W=W, Win=Win, bias=bias, lr=1.0, **ip)
        res.fit(x)
        res.reset()
        states = res.run(x)
        if isinstance(states, list) or np.ndim(states) == 3:
            states, y = np.concatenate([s[warm:] for s in states]), np.concatenate([t[warm:] for t in y])
        else:
            states, y = states[warm:], y[warm:]
        Ridge(ridge=1e-8).fit(states, y)
        return res

    models = {dt: IPESN(units=N, leak_rate=1.0, mu=ip["mu"], sigma=ip["sigma"], ip_epochs=ip["epochs"],
                        ip_learning_rate=ip["learning_rate"], ridge=1e-8, washout=min(100, L // 2),
                        input_to_readout=False, dtype=dt).set_reservoir(dense(W), dense(Win), dense(bias))
              for dt in ("float64", "float32")}
    cases = {"ip single": (X, Y, T), f"ip batch{B}": (Xb, Yb, B * L)}
    for case, (x, y, n) in cases.items():
        warm = min(100, L // 2)
        fns = {rpy_name: lambda x=x, y=y, warm=warm: rpy(x, y, warm)}
        for dt, m in models.items():
            fns[f"neurorec numpy {dt}"] = lambda m=m, x=x, y=y: m.fit(x, y)
        for name, secs in _race(fns, max(1, args.repeats - 2)).items():
            record(case, name, ip["epochs"] * n + n, secs)       # IP steps + run steps
    theirs = rpy(X, Y, min(100, L // 2))
    ours = models["float64"].fit(X, Y)
    diff = float(max(np.abs(ours.gain_ - theirs.a).max(), np.abs(ours.ip_bias_ - theirs.b).max()))
    progress(f"IP gains and biases: largest difference from reservoirpy's {diff:.1e}")
    return diff


def _online_case(args, series, record, rpy_name: str) -> dict:
    """Online readouts, reservoirpy's ``LMS`` / ``RLS`` nodes (``Reservoir >> node``, and FORCE:
    ``ESN(feedback=True)`` with an RLS readout) against ``neurorec.models.OnlineReservoir`` on the
    same weights, each training the readout step by step over the same stream: one sequence of up
    to 2,000 steps, and 64 streams of an eighth of that (reservoirpy trains on them in turn,
    neurorec steps the 64 together, one readout update per time step). Returns the
    ``ratio_{lms,rls,force}_{single,batch64}`` keys (neurorec / reservoirpy throughput) and the
    largest weight differences after the same single-stream training."""
    import numpy as np
    from reservoirpy import ESN as RESN
    from reservoirpy.nodes import LMS as RLMS
    from reservoirpy.nodes import RLS as RRLS
    from reservoirpy.nodes import Reservoir
    from scipy import sparse

    from neurorec.models import OnlineReservoir

    N, T, B = min(args.units, 300), min(args.steps, 2000), 64
    series = np.asarray(series, dtype=np.float64).reshape(-1)
    L = max(T // 8, 2)
    X, Y = series[:T, None], series[1:T + 1, None]
    Xb = np.stack([series[T + i * L: T + (i + 1) * L, None] for i in range(B)])
    Yb = np.stack([series[T + i * L + 1: T + (i + 1) * L + 1, None] for i in range(B)])
    t = np.arange(T + B * L) * 0.1                       # FORCE: Sussillo & Abbott's sum of sines, no input
    w = np.pi / 60
    f = (1.3 / 1.5) * (np.sin(w * t) + np.sin(2 * w * t) / 2 + np.sin(3 * w * t) / 6 + np.sin(4 * w * t) / 3)
    Fx, Fy = np.zeros((T, 1)), f[:T, None]
    Fx[0] = 1.0
    Fxb, Fyb = np.zeros((B, L, 1)), f[T:].reshape(B, L, 1)
    Fxb[:, 0] = 1.0
    cases = {"lms": ({"units": N, "leak_rate": 0.3, "input_to_readout": False}, {"learning_rate": 1e-2}, X, Y, Xb, Yb),
             "rls": ({"units": N, "leak_rate": 0.3, "input_to_readout": False}, {"alpha": 1e-2}, X, Y, Xb, Yb),
             "force": ({"units": N, "spectral_radius": 1.5, "leak_rate": 0.1, "feedback": True, "input_init": "uniform",
                        "feedback_connectivity": 1.0, "input_to_readout": False}, {"alpha": 1.0}, Fx, Fy, Fxb, Fyb)}
    out = {}
    f64, f32 = "neurorec numpy float64", "neurorec numpy float32"
    for name, (res_params, kw, x, y, xb, yb) in cases.items():
        rule = "lms" if name == "lms" else "rls"
        ours = {dt: OnlineReservoir("ESN", res_params, rule=rule, fit_bias=False, dtype=dt, seed=42, **kw)
                for dt in ("float64", "float32")}
        for m in ours.values():
            m.fit(x[:2], y[:2])                                  # draws the reservoir (the same for both)
        r = ours["float64"].reservoir_
        Win = np.hstack([r.W_in_, r.W_fb_]) if name == "force" else r.W_in_

        def rpy_model(r=r, Win=Win, res_params=res_params, rule=rule, kw=kw, name=name):
            res = Reservoir(W=sparse.csr_array(r.W_), Win=Win, bias=r.bias_, lr=res_params["leak_rate"])
            readout = (RLMS if rule == "lms" else RRLS)(fit_bias=False, **kw)
            model = RESN(reservoir=res, readout=readout, feedback=True) if name == "force" else res >> readout
            return model, readout

        theirs, _ = rpy_model()
        theirs.partial_fit(x[:2], y[:2])                         # initialises the nodes

        def rpy_single(m=theirs, x=x, y=y):
            m.reset()
            m.partial_fit(x, y)

        def rpy_batch(m=theirs, xb=xb, yb=yb):
            for i in range(len(xb)):                              # one stream after another
                m.reset()
                m.partial_fit(xb[i], yb[i])

        single, batch = {rpy_name: rpy_single}, {rpy_name: rpy_batch}
        for dt, m in ours.items():
            single[f"neurorec numpy {dt}"] = lambda m=m, x=x, y=y: m.reset_state().partial_fit(x, y)
            batch[f"neurorec numpy {dt}"] = lambda m=m, xb=xb, yb=yb: m.reset_state().partial_fit(xb, yb)
        for case, fns, n in ((f"{name} single", single, T), (f"{name} batch{B}", batch, B * L)):
            secs = _race(fns, max(1, args.repeats - 2))
            for engine, s in secs.items():
                record(case, engine, n, s)
            key = f"ratio_{case.replace(' ', '_')}"
            out[key] = secs[rpy_name] / secs[f32]                 # neurorec's default dtype, as ratio_single
            out[f"{key}_float64"] = secs[rpy_name] / secs[f64]
        # agreement: the same training from scratch on one stream, float64 on both
        fresh = ours["float64"].clone()
        fresh.partial_fit(x, y)
        m, readout = rpy_model()
        m.partial_fit(x, y)
        diff = float(np.abs(fresh.W_out_ - readout.Wout).max())
        out[f"{name}_max_abs_weight_difference"] = diff
        progress(f"online {name}: largest readout weight difference from reservoirpy's {diff:.1e}")
    return out


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

    # --- deep ESN: reservoirpy's Reservoir >> Reservoir against DeepESN on the same weights ---
    deep_agree = _deep_case(args, X, Xb, record, rpy_name)

    # --- intrinsic plasticity (IPReservoir vs IPESN) --------------------------------------
    _ip_case(args, series, record, rpy_name)

    # --- online readouts (LMS, RLS, FORCE) vs reservoirpy's nodes -------------------------
    online = _online_case(args, series, record, rpy_name)

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
        "ratio_deep_single": rate("deep single", "neurorec") / rate("deep single", "reservoirpy"),
        "ratio_deep_batch64": rate("deep batch64", "neurorec") / rate("deep batch64", "reservoirpy"),
        "deep_max_abs_difference": deep_agree,
        "ratio_ip_single": rate("ip single", "neurorec numpy float64") / rate("ip single", "reservoirpy"),
        "ratio_ip_batch16": rate("ip batch16", "neurorec numpy float64") / rate("ip batch16", "reservoirpy"),
        "nvar_max_abs_difference": nvar_agree,
        "nrmse_neurorec": err_n,
        "nrmse_reservoirpy": err_r,
        **online,
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
