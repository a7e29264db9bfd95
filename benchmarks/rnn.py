"""LSTM/GRU training speed: neurorec against a hand-written torch loop, in one run.

Both train the same network on the same data: ``--batch`` sequences of ``--steps`` steps x
``--features`` features (row-by-row MNIST shape by default), one ``--units``-unit LSTM or GRU
layer, a dense classifier on the last state, ``--classes`` classes, cross-entropy, Adam at
neurorec's default learning rate, the gradient norm clipped to neurorec's default
``clip_norm`` (1.0) in both, float32. Every epoch visits ``--batches`` mini-batches in an
order drawn by ``torch.randperm`` from a generator seeded with 0, the same for both. Engines:

* torch: ``nn.LSTM``/``nn.GRU`` + ``nn.Linear``, the loop a user writes by hand (index the
  batch, zero_grad, forward, cross_entropy, backward, ``clip_grad_norm_``, ``opt.step``);
* neurorec fit_module: :func:`neurorec.train.fit_module` called with exactly the module, loss
  function, training tensors and settings that ``LSTM(...).fit(X, y)`` hands it (captured from
  one ``fit`` call); this is the training step the overhead is measured on (``overhead_lstm``,
  ``overhead_gru``);
* neurorec .fit(): ``LSTM(...).fit(X, y)`` end to end (validation, early stopping and the
  progress bar off): input checks, initialisation and the weight copy included.

Time per step = best epoch time over ``--rounds`` rounds / ``--batches``. The engines take turns
within each round (the order reversed every other round), so that a slow spell of a shared
machine hits all of them alike; as a cross-check, ``overhead_*_paired_median`` is the median
over rounds of neurorec's time / torch's time in the same round. BLAS/OpenMP/torch threads are
pinned to ``--threads``, 1 by default: one step of this size is a chain of 2 x 28 dependent
small matrix products, and on a machine shared with other jobs a second OpenMP thread makes
each of them wait for a descheduled peer (on a loaded 2-core machine: 18-22 ms/step with 1
thread, 65-120 ms/step and run-to-run ratios anywhere in 0.7-1.2 with 2). Pass ``--threads N``
on an idle machine.

Before timing, one step of each from the same weights on the same batch is compared, to show
the two loops compute the same update. With ``--device cpu`` (the default) and a CUDA device
present, a CUDA section follows (sequence-steps/s and the overhead there, cuDNN kernels,
``--cuda-batches`` mini-batches per epoch); without CUDA it is skipped with a note.

The last line printed is one JSON object with ``overhead_lstm`` and ``overhead_gru`` (neurorec
time / torch time for the same training step; the goal is <= 1.05). Usage::

    python benchmarks/rnn.py [--threads 1] [--rounds 9] [--batches 40] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


def _race(fns: dict, rounds: int) -> dict:
    """Wall times of each function in each of ``rounds`` rounds, the functions taking turns
    within each round (in reverse order every other round), so that a slow spell of a shared
    machine hits all of them alike and none always runs right after the same other one."""
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t)
    return times


def _engines(args, device: str, n_batches: int):
    """The three engines of each cell on ``device``; returns (fns, same_step_diff)."""
    import numpy as np
    import torch
    from torch import nn
    from torch.nn import functional as F

    import neurorec.train as nt
    from neurorec.models import GRU, LSTM
    from neurorec.train import fit_module

    dev = torch.device(device)
    B, T, n_in, H, C = args.batch, args.steps, args.features, args.units, args.classes
    N = B * n_batches
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, T, n_in)).astype(np.float32)
    y = rng.permutation(np.arange(N) % C).astype(np.int64)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    X_raw, y_raw = torch.as_tensor(X).to(dev), torch.as_tensor(y).to(dev)

    def captured_fit(model):
        """Run ``model.fit(X, y)`` once and return what it handed to ``fit_module`` (module, loss
        function, training tensors, keyword arguments): neurorec's own training path."""
        seen = {}

        def spy(module, loss_fn, train, **kw):
            seen.update(module=module, loss_fn=loss_fn, train=train, kw=kw)
            return fit_module(module, loss_fn, train, **kw)

        nt.fit_module = spy
        try:
            model.fit(X, y)
        finally:
            nt.fit_module = fit_module
        if not seen:
            raise RuntimeError(f"{type(model).__name__}.fit did not call neurorec.train.fit_module")
        return seen

    class Raw(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.rnn = cell(n_in, H, batch_first=True)
            self.head = nn.Linear(H, C)

        def forward(self, x):
            _, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h
            return self.head(h[-1])

    def raw_train(net, lr, clip, epochs, X_, y_, shuffle=True):
        params = list(net.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        gen = torch.Generator()
        gen.manual_seed(0)
        net.train()
        n = X_.shape[0]
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen).to(dev) if shuffle else None
            for s in range(0, n, B):
                if order is None:
                    x, yb = X_[s:s + B], y_[s:s + B]
                else:
                    idx = order[s:s + B]
                    x, yb = X_[idx], y_[idx]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(x), yb)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, clip)
                opt.step()
        net.eval()

    fns, diffs = {}, {}
    for cell, cls, raw_cell in (("lstm", LSTM, nn.LSTM), ("gru", GRU, nn.GRU)):
        model = cls(units=H, batch_size=B, epochs=args.epochs, early_stopping=False, validation_fraction=0.0,
                    progress=False, device=device, seed=0)
        seen = captured_fit(model)
        net, nr_loss, train_nr, kw = seen["module"], seen["loss_fn"], seen["train"], seen["kw"]
        raw = Raw(raw_cell).to(dev)

        # Same step check: from the same weights, one step on the same batch.
        a, b = copy.deepcopy(net), Raw(raw_cell).to(dev)
        b.load_state_dict(a.state_dict())
        fit_module(a, nr_loss, tuple(t[:B] for t in train_nr), **dict(kw, epochs=1, shuffle=False, lr_schedule=None))
        raw_train(b, model.lr, model.clip_norm, 1, X_raw[:B], y_raw[:B], shuffle=False)
        sa, sb = a.state_dict(), b.state_dict()
        diffs[cell] = max(float((sa[k] - sb[k]).abs().max()) for k in sb)

        def run_nr(net=net, nr_loss=nr_loss, train_nr=train_nr, kw=kw):
            fit_module(net, nr_loss, train_nr, **dict(kw, epochs=args.epochs))
            sync()

        def run_raw(raw=raw, model=model):
            raw_train(raw, model.lr, model.clip_norm, args.epochs, X_raw, y_raw)
            sync()

        def run_fit(model=model):
            model.fit(X, y)
            sync()

        fns[(cell, "torch")] = run_raw
        fns[(cell, "neurorec fit_module")] = run_nr
        fns[(cell, "neurorec .fit()")] = run_fit
    return fns, diffs


def _section(args, device: str, n_batches: int, label: str) -> tuple[list, dict]:
    import torch

    fns, diffs = _engines(args, device, n_batches)
    for (_, engine), fn in fns.items():   # warm the torch loop; neurorec's ran once in _engines
        if engine == "torch":
            fn()
    times = _race(fns, args.rounds)
    best = {k: min(v) for k, v in times.items()}
    steps = n_batches * args.epochs
    seq_steps = args.batch * args.steps
    rows, out = [], {}
    for cell in ("lstm", "gru"):
        base = best[(cell, "torch")] / steps
        for engine in ("torch", "neurorec fit_module", "neurorec .fit()"):
            t = best[(cell, engine)] / steps
            rows.append({"section": label, "model": cell.upper(), "engine": engine, "ms_step": 1e3 * t,
                         "seq_steps_per_s": seq_steps / t, "overhead": t / base})
        t_nr, t_fit = best[(cell, "neurorec fit_module")] / steps, best[(cell, "neurorec .fit()")] / steps
        paired = statistics.median(a / b for a, b in zip(times[(cell, "neurorec fit_module")],
                                                          times[(cell, "torch")], strict=True))
        out.update({
            f"overhead_{cell}": t_nr / base,
            f"overhead_{cell}_paired_median": paired,
            f"overhead_fit_{cell}": t_fit / base,
            f"ms_step_{cell}_neurorec": 1e3 * t_nr,
            f"ms_step_{cell}_neurorec_fit": 1e3 * t_fit,
            f"ms_step_{cell}_torch": 1e3 * base,
            f"seq_steps_per_s_{cell}_neurorec": seq_steps / t_nr,
            f"seq_steps_per_s_{cell}_torch": seq_steps / base,
            f"same_step_max_abs_diff_{cell}": diffs[cell],
        })
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return rows, out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/torch threads (default 1: see the module docstring)")
    ap.add_argument("--batch", type=int, default=64, help="sequences per mini-batch")
    ap.add_argument("--steps", type=int, default=28, help="time steps per sequence")
    ap.add_argument("--features", type=int, default=28, help="inputs per step")
    ap.add_argument("--units", type=int, default=128, help="hidden units")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batches", type=int, default=40, help="mini-batches per epoch (K)")
    ap.add_argument("--cuda-batches", type=int, default=200, help="mini-batches per epoch on CUDA")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed run")
    ap.add_argument("--rounds", type=int, default=9, help="timed rounds; the best one counts")
    ap.add_argument("--device", default="cpu", help="cpu (default; plus a CUDA section if CUDA is present) or cuda")
    args = ap.parse_args(argv)
    if args.batches < 1 or args.cuda_batches < 1 or args.epochs < 1 or args.rounds < 1:
        ap.error("--batches, --cuda-batches, --epochs and --rounds must be >= 1")
    _pin_threads(args.threads)

    import torch

    import neurorec

    torch.set_num_threads(args.threads)
    device = str(args.device)
    has_cuda = torch.cuda.is_available()
    if device.startswith("cuda") and not has_cuda:
        ap.error(f"--device {device}: torch {torch.__version__} sees no CUDA device")

    n_batches = args.cuda_batches if device.startswith("cuda") else args.batches
    rows, result = _section(args, device, n_batches, device)
    cuda_note = None
    if device == "cpu":
        if has_cuda:
            crow, cres = _section(args, "cuda", args.cuda_batches, "cuda")
            rows += crow
            result.update({f"cuda_{k}": v for k, v in cres.items()}, cuda_batches_per_epoch=args.cuda_batches)
        else:
            cuda_note = f"CUDA section skipped: torch {torch.__version__} sees no CUDA device."

    result = {
        "benchmark": "rnn",
        **{k: result.pop(k) for k in ("overhead_lstm", "overhead_gru")},
        **result,
        "device": device,
        "threads": args.threads,
        "batch": args.batch,
        "steps": args.steps,
        "features": args.features,
        "units": args.units,
        "classes": args.classes,
        "batches_per_epoch": n_batches,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "neurorec": neurorec.__version__,
    }
    if cuda_note:
        result["cuda"] = "skipped: no CUDA device"

    print(f"batch {args.batch} x {args.steps} steps x {args.features} features, {args.units} units, "
          f"{args.classes} classes, Adam, clip_norm 1.0, float32; {args.threads} threads, "
          f"best of {args.rounds} rounds")
    print(f"{'section':<9}{'model':<6}{'engine':<22}{'ms/step':>10}{'seq-steps/s':>14}{'overhead':>10}")
    for r in rows:
        print(f"{r['section']:<9}{r['model']:<6}{r['engine']:<22}{r['ms_step']:>10.3f}"
              f"{r['seq_steps_per_s']:>14,.0f}{r['overhead']:>10.3f}")
    print("overhead = engine time / torch time per step (goal for neurorec fit_module: <= 1.05); "
          ".fit() includes input checks, initialisation and the weight copy, once per .fit() call")
    print("same step from the same weights, max |difference| after one update: "
          + ", ".join(f"{c.upper()} {result[f'same_step_max_abs_diff_{c}']:.1e}" for c in ("lstm", "gru")))
    if cuda_note:
        print(cuda_note)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
