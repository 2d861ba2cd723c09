"""mnistlab: train, compare and inspect small image classifiers on the MNIST family.

The public API, for notebooks and scripts::

    import mnistlab
    run = mnistlab.train(dataset="fashion-mnist", model="seed000-cnn", epochs=5)
    run.test_accuracy, run.history[-1]

Submodules stay importable by name (``from mnistlab.train import run_config``); note that
``mnistlab.train`` and ``mnistlab.compare`` as attributes are the functions, not the modules.
"""

from __future__ import annotations

__version__ = "0.3.0"

from mnistlab.compare import compare
from mnistlab.config import RunConfig, parse_run_config
from mnistlab.datasets import Dataset, list_datasets, load_dataset, validation_split
from mnistlab.errors import DataError, MnistlabError, SpecError, StoreError
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.models import build_model, format_summary, summarize
from mnistlab.presets import list_presets, resolve_model
from mnistlab.specs import ModelSpec, load_model_spec, parse_model_spec, save_model_spec
from mnistlab.store import RunRecord, RunStore
from mnistlab.train import Run, RunResult, run_config, train

__all__ = [
    "__version__",
    "Dataset", "list_datasets", "load_dataset", "validation_split",
    "ModelSpec", "parse_model_spec", "load_model_spec", "save_model_spec",
    "build_model", "summarize", "format_summary", "resolve_model", "list_presets",
    "RunConfig", "parse_run_config", "run_config", "train", "Run", "RunResult",
    "load_experiment", "run_experiment", "compare", "RunStore", "RunRecord",
    "MnistlabError", "DataError", "SpecError", "StoreError",
]
