"""Tasks and data sets: generators, bundled real data, splits, scalers.

Layout: a batch of sequences is a float32 array ``(batch, time, features)``; variable-length
batches are a list of ``(time_i, features)`` float32 arrays. Classification targets are int64
labels ``(batch,)``; sequence targets are float32 ``(batch, time, out)``.

* Generators (pure, explicit ``seed``): :func:`mackey_glass`, :func:`narma10`,
  :func:`lorenz`, :func:`memory_capacity_data`.
* Loaders of data bundled in installed packages (nothing is downloaded):
  :func:`load_digits_sequences`, :func:`load_mnist_sample`, :func:`load_mnist1d`,
  :func:`load_japanese_vowels`, :func:`load_santafe_laser`.
* aeon/sktime collections ``(n, channels, time)``: :func:`from_aeon`, :func:`to_aeon`;
  :class:`LayoutWarning` when a batch looks transposed.
* :class:`SequenceScaler`: per-feature standardisation over all steps of all sequences.
* UCR/UEA classification sets shipped in aeon's wheel: :func:`ucr_names`, :func:`load_ucr`,
  tasks ``"ucr:<Name>"`` (:func:`ucr_task`).
* Anomaly detection (the ``detect`` kind, :mod:`neurorec.data.anomaly`): the synthetic benchmark
  :func:`make_anomaly_series`, :data:`ANOMALY_BENCHMARK`, :func:`anomaly_benchmark` (tasks
  ``"anomaly:<base>-<kind>"``), UCR anomaly archive series 135 :func:`kdd_tsad_135` (task
  ``"kdd_tsad_135"``), :func:`make_detect_task_data` for your own series, :func:`anomaly_ranges`,
  :func:`save_ucr_format` / :func:`load_ucr_anomaly`, the unlabelled :func:`daphnet_s06r02e0`;
  :class:`AnomalyInTrainingWarning`.
* Tasks: :func:`get_task`, :func:`list_tasks`, :func:`register_task`; :class:`Task`,
  :class:`TaskData`, :class:`Split`.

Example
-------
>>> from neurorec.data import get_task
>>> task = get_task("narma10")
>>> data = task.load(seed=0)
>>> data.train.X.shape, data.val.skip
((1, 3600, 1), 100)
"""

from .._validation import LayoutWarning
from .aeon import from_aeon, to_aeon
from .anomaly import (
    ANOMALY_BENCHMARK,
    AnomalyInTrainingWarning,
    AnomalySeries,
    anomaly_benchmark,
    anomaly_ranges,
    daphnet_s06r02e0,
    kdd_tsad_135,
    load_ucr_anomaly,
    make_anomaly_series,
    make_detect_task_data,
    save_ucr_format,
)
from .datasets import (
    load_digits_sequences,
    load_japanese_vowels,
    load_mnist1d,
    load_mnist_sample,
    load_santafe_laser,
)
from .generators import lorenz, mackey_glass, memory_capacity_data, narma10
from .scaling import SequenceScaler
from .task import KINDS, Split, Task, TaskData
from .tasks import get_task, list_tasks, register_task
from .ucr import load_ucr, ucr_names, ucr_task

__all__ = [
    "mackey_glass",
    "narma10",
    "lorenz",
    "memory_capacity_data",
    "load_digits_sequences",
    "load_mnist_sample",
    "load_mnist1d",
    "load_japanese_vowels",
    "load_santafe_laser",
    "SequenceScaler",
    "Split",
    "TaskData",
    "Task",
    "KINDS",
    "get_task",
    "list_tasks",
    "register_task",
    "ucr_names",
    "load_ucr",
    "ucr_task",
    "from_aeon",
    "to_aeon",
    "LayoutWarning",
    "ANOMALY_BENCHMARK",
    "AnomalySeries",
    "AnomalyInTrainingWarning",
    "anomaly_ranges",
    "anomaly_benchmark",
    "make_anomaly_series",
    "make_detect_task_data",
    "kdd_tsad_135",
    "daphnet_s06r02e0",
    "save_ucr_format",
    "load_ucr_anomaly",
]
