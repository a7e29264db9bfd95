"""From a trained spiking classifier to neuromorphic hardware form, next to classical models.

One script through the whole of ``neurorec.hardware`` on scikit-learn's digits:

1. train a ``SpikingClassifier`` (64 static inputs rate-coded as Bernoulli spikes over 25 steps,
   one hidden LIF layer, reset to zero so that NIR can say it exactly, spike-count readout: every
   layer spikes, as on a chip, and snntorch has no reader for NIR's non-spiking LI node);
2. for each target (Xylo SYNS61201, Loihi, Loihi 2) quantise it to the chip's integer arithmetic
   (post-training quantisation, PTQ) and fine-tune it quantisation-aware (QAT, straight-through
   estimator), and check whether it fits the chip (``neurorec.hardware.fit``);
3. export the float network to NIR (forward-Euler time constants, the discretisation snntorch and
   norse use), read the file back in snntorch (``import_from_nir``) and norse (``from_nir``) and
   count the hidden-layer spikes that fall on the same step as neurorec's, on the test inputs;
4. estimate the energy per inference from the counted operations: SynOps and neuron updates on
   each chip's profile (and, for comparison, the float SNN's SynOps as accumulates on the 45 nm
   CMOS MAC baseline of Horowitz 2014), and the MACs and memory accesses of an ESN and an LSTM on
   that baseline, trained on the same split.

Prints one table (target, fits?, accuracy float / PTQ / QAT, SynOps and energy per inference) and
writes ``deploy.csv``, ``nir_check.csv``, ``fit_<target>.txt`` and ``digits_snn.nir`` into ``--out``.

Run::

    python experiments/deploy.py [--seeds 0 1 2] [--out DIR] [--quick]
"""

from __future__ import annotations

import json

import _common
import numpy as np

NAME = "deploy"
SNN = dict(hidden=128, input_mode="static", encoder="poisson", n_steps=25, reset="zero", readout="spike_count",
           optimizer="adam", lr=2e-3, batch_size=64, epochs=30, patience=5, early_stopping=True)
TARGETS = ("xylo", "loihi", "loihi2")
QAT_EPOCHS = 10
QUICK_EPOCHS = 2


def _hidden_spikes(model, x):
    """neurorec's hidden-layer spikes (batch, steps, units) of a classifier on its encoded input ``x``."""
    from neurorec.models.spiking.snn import _lif

    spec = model._spec()
    w = {k: np.asarray(v, np.float64) for k, v in model.weights_.items()}
    h = np.swapaxes(np.asarray(x, np.float64), 0, 1)
    h = _lif(h @ w["hidden.0.weight"].T + w["hidden.0.bias"], spec)
    return np.swapaxes(h, 0, 1)


def nir_check(clf, X, out, seed: int) -> list[dict]:
    """Export ``clf`` to NIR, read it in neurorec, snntorch and norse, and compare hidden spikes."""
    from neurorec.hardware import encoded_input, from_nir, to_nir
    from neurorec.hardware._peers import run_peer, spike_agreement

    path = out / "digits_snn.nir"
    graph = to_nir(clf, path=path, discretisation="euler")
    x, _ = encoded_input(clf, X)
    want = _hidden_spikes(clf, x)
    back = from_nir(path)
    rows = [{"seed": seed, "reader": "neurorec (from_nir)", "spikes": int(want.sum()),
             "same_step": spike_agreement(_hidden_spikes(back, x), want)}]
    lif = [k for k, v in graph.nodes.items() if type(v).__name__ == "LIF"][0]
    for library in ("snntorch", "norse"):
        try:
            got = run_peer(library, path, x, record="all")[lif]
        except ImportError as exc:
            rows.append({"seed": seed, "reader": library, "spikes": -1, "same_step": float("nan"), "note": str(exc)})
            continue
        rows.append({"seed": seed, "reader": library, "spikes": int(got.sum()),
                     "same_step": spike_agreement(got, want)})
    return rows


def run(args):
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.hardware import check, energy, quantize
    from neurorec.models import ESN, LSTM
    from neurorec.models.spiking.snn import SpikingClassifier

    task = get_task("digits")
    rows, nir_rows = [], []
    for seed in args.seeds:
        d = task.load(seed)
        tr, va, te = d.train, d.val, d.test
        params = dict(SNN, epochs=QUICK_EPOCHS if args.quick else SNN["epochs"])
        clf = SpikingClassifier(seed=seed, **params).fit(tr.X, tr.y, X_val=va.X, y_val=va.y)
        acc_float = clf.score(te.X, te.y)
        nir_rows += nir_check(clf, te.X, args.out, seed)
        for target in TARGETS:
            for bits in (8, 4):
                q = quantize(clf, target, weight_bits=bits)
                acc_ptq = q.score(te.X, te.y)
                q.fine_tune(tr.X, tr.y, va.X, va.y, epochs=1 if args.quick else QAT_EPOCHS)
                acc_qat = q.score(te.X, te.y)
                report = check(q, target)
                if bits == 8:
                    (args.out / f"fit_{target}.txt").write_text(str(report) + "\n")
                e = energy(q, te.X, target)
                rows.append({"seed": seed, "model": f"SNN 64-{params['hidden']}-10", "target": target,
                             "weight_bits": bits, "fits": bool(report.fits), "verdict": report.verdict,
                             "acc_float": acc_float, "acc_ptq": acc_ptq, "acc_qat": acc_qat,
                             "synops": e.get("synops"), "energy_J": e.get("energy_J"), "note": e.get("note", "")})
        e = energy(clf, te.X, "cmos45")         # the float SNN on a MAC datapath, for comparison
        rows.append({"seed": seed, "model": f"SNN 64-{params['hidden']}-10", "target": "cmos45", "weight_bits": 32,
                     "fits": True, "verdict": "(CPU/GPU-like datapath)", "acc_float": acc_float,
                     "acc_ptq": float("nan"), "acc_qat": float("nan"), "synops": e.get("synops"),
                     "energy_J": e.get("energy_J"), "note": e.get("note", "")})
        # the default compare's settings for digits (neurorec/experiment/configs/default.toml)
        esn = ESN(units=500, spectral_radius=0.9, leak_rate=0.5, input_scaling=0.5, ridge=1e-2, washout=0, seed=seed)
        for name, model in (("ESN-500", esn),
                            ("LSTM-64", LSTM(units=64, seed=seed, epochs=QUICK_EPOCHS if args.quick else 100))):
            if name.startswith("LSTM"):
                model.fit(tr.X, tr.y, X_val=va.X, y_val=va.y)
            else:
                model.fit(tr.X, tr.y)
            acc = model.score(te.X, te.y)
            e = energy(model, te.X, "cmos45")
            rows.append({"seed": seed, "model": name, "target": "cmos45", "weight_bits": 32, "fits": True,
                         "verdict": "(CPU/GPU-like datapath)", "acc_float": acc, "acc_ptq": float("nan"),
                         "acc_qat": float("nan"), "synops": float("nan"), "macs": e.get("macs"),
                         "energy_J": e.get("energy_J"), "note": e.get("note", "")})
    return pd.DataFrame(rows), pd.DataFrame(nir_rows)


def _table(df) -> str:
    ms = _common.mean_std
    lines = ["| model | target | weight bits | fits? | accuracy float | PTQ | QAT | SynOps / inference "
             "| energy / inference |", "|---|---|---|---|---|---|---|---|---|"]
    for (model, target, bits), g in df.groupby(["model", "target", "weight_bits"], sort=False):
        fits = "yes" if g["fits"].all() else "no" if not g["fits"].any() else "some seeds"
        syn = f"{g['synops'].mean():,.0f}" if g["synops"].notna().any() else "-"
        en = g["energy_J"].astype(float)
        energy = f"{en.mean() * 1e9:.3g} nJ" if en.notna().any() else "n/a"
        ptq = ms(g["acc_ptq"]) if g["acc_ptq"].notna().any() else "-"
        qat = ms(g["acc_qat"]) if g["acc_qat"].notna().any() else "-"
        lines.append(f"| {model} | {target} | {bits} | {fits} | {ms(g['acc_float'])} | {ptq} | {qat} | {syn} "
                     f"| {energy} |")
    return "\n".join(lines)


def main():
    args = _common.parse_args(NAME, __doc__.splitlines()[0])
    _common.setup(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    timer = _common.Timer()
    df, nir_df = run(args)
    df.to_csv(args.out / "deploy.csv", index=False)
    nir_df.to_csv(args.out / "nir_check.csv", index=False)
    print(f"digits, seeds {args.seeds}, test split ({timer():.0f} s; {_common.machine()})\n")
    print(_table(df))
    print("\nFit verdicts (8-bit weights):")
    for (target,), g in df[df["weight_bits"] == 8].groupby(["target"], sort=False):
        print(f"  {target}: {g['verdict'].iloc[0]}")
    notes = sorted({n for n in df["note"].dropna() if n})
    for n in notes:
        print(f"  note: {n}")
    print("\nNIR file read back (hidden-layer spikes at the same step as neurorec, test inputs):")
    for reader, g in nir_df.groupby("reader", sort=False):
        print(f"  {reader:<22} {g['same_step'].mean():.6f} of {int(g['spikes'].mean()):,} spikes")
    (args.out / "results.json").write_text(json.dumps({"seeds": args.seeds, "snn": SNN, "qat_epochs": QAT_EPOCHS,
                                                       "machine": _common.machine()}, indent=1))


if __name__ == "__main__":
    main()
