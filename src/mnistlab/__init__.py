"""mnistlab: train, compare and inspect small image classifiers on the MNIST family.

The public API, for notebooks and scripts::

    import mnistlab
    run = mnistlab.train(dataset="fashion-mnist", model="seed000-cnn", epochs=5)
    run.test_accuracy, run.history[-1]

The modules follow the data flow: ``datasets`` -> ``specs``/``presets`` -> ``models`` ->
``trainer`` (the loop) -> ``run`` (one run end to end, recorded) -> ``store`` -> ``plots``/``report``;
the speed work sits beside them in ``accel``.
"""

from __future__ import annotations

import signal as _signal
import sys as _sys

from mnistlab._version import __version__

# `python -m mnistlab` loads this package (torch and the rest: a second or two) before its
# __main__ runs, while Python's ``sys.argv[0]`` is still "-m": a Ctrl-C then is noted, not raised
# inside an import (a traceback, or numpy's "C-extensions failed"), and __main__ ends in one line
# and status 130, as the `mnistlab` console script does (mnistlab_launch).
_PRESSED: list[int] = []
_HOLD = _sys.argv[:1] == ["-m"] and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
_previous = _signal.signal(_signal.SIGINT, lambda signum, frame: _PRESSED.append(signum)) if _HOLD else None

from mnistlab.comparison import compare
from mnistlab.config import RunConfig, parse_run_config
from mnistlab.datasets import Dataset, list_datasets, load_dataset, validation_split
from mnistlab.errors import DataError, MnistlabError, SpecError, StoreError
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.models import build_model, format_summary, summarize
from mnistlab.presets import list_presets, resolve_model
from mnistlab.specs import ModelSpec, load_model_spec, parse_model_spec, save_model_spec
from mnistlab.store import RunRecord, RunStore
from mnistlab.run import Committee, Run, RunResult, load_trained, run_config, train
from mnistlab.preprocess import preprocess

if _HOLD:
    _signal.signal(_signal.SIGINT, _previous)

__all__ = [
    "__version__",
    "Dataset", "list_datasets", "load_dataset", "validation_split",
    "ModelSpec", "parse_model_spec", "load_model_spec", "save_model_spec",
    "build_model", "summarize", "format_summary", "resolve_model", "list_presets",
    "RunConfig", "parse_run_config", "run_config", "train", "Run", "RunResult",
    "load_trained", "Committee", "preprocess",
    "load_experiment", "run_experiment", "compare", "RunStore", "RunRecord",
    "MnistlabError", "DataError", "SpecError", "StoreError",
]
