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

import sys
import types
from typing import TYPE_CHECKING, Any

from mnistlab._version import __version__

# The public names, each loaded from its module on first use (PEP 562): `import mnistlab` and the
# `mnistlab` command's help, listings and store commands do not wait for torch (seconds) to load.
_HOMES = {
    "Callback": "callbacks",
    "compare": "comparison",
    "RunConfig": "config", "parse_run_config": "config",
    "Dataset": "datasets", "list_datasets": "datasets", "load_dataset": "datasets", "validation_split": "datasets",
    "DataError": "errors", "MnistlabError": "errors", "SpecError": "errors", "StoreError": "errors",
    "SweepInterrupted": "execute", "run_experiment": "execute",
    "load_experiment": "experiments",
    "build_model": "models", "format_summary": "summary", "summarize": "summary",
    "list_presets": "presets", "resolve_model": "presets",
    "ModelSpec": "specs", "load_model_spec": "specs", "parse_model_spec": "specs", "save_model_spec": "specs",
    "RunRecord": "store", "RunStore": "store",
    "Committee": "run", "Run": "run", "RunResult": "run", "load_trained": "run", "run_config": "run", "train": "run",
    "TrainingInterrupted": "run", "list_images": "preprocessing", "preprocess": "preprocessing", "lr_find": "lr_finder",
    "load_model": "export",
}

if TYPE_CHECKING:
    from mnistlab.callbacks import Callback
    from mnistlab.comparison import compare
    from mnistlab.config import RunConfig, parse_run_config
    from mnistlab.datasets import Dataset, list_datasets, load_dataset, validation_split
    from mnistlab.errors import DataError, MnistlabError, SpecError, StoreError
    from mnistlab.execute import SweepInterrupted, run_experiment
    from mnistlab.experiments import load_experiment
    from mnistlab.models import build_model
    from mnistlab.summary import format_summary, summarize
    from mnistlab.presets import list_presets, resolve_model
    from mnistlab.specs import ModelSpec, load_model_spec, parse_model_spec, save_model_spec
    from mnistlab.store import RunRecord, RunStore
    from mnistlab.run import Committee, Run, RunResult, TrainingInterrupted, load_trained, run_config, train
    from mnistlab.preprocessing import list_images, preprocess
    from mnistlab.lr_finder import lr_find
    from mnistlab.export import load_model
    from mnistlab import (  # noqa: F401 (every module __dir__ offers, reached as mnistlab.plots after `import mnistlab`)
        accel, augment, averaging, backends, callbacks, card, cli, comparison, config, data, datasets, error_analysis,
        errors, evaluate, execute, experiments, export, files, initial_weights, keras_json, keypaths, live, lr_finder,
        metrics, models, notes, optim, plots, preprocessing, presets, report, run, search, selection, specs, stats, store,
        summary, trainer, views,
    )


if not TYPE_CHECKING:  # for a type checker the names are the imports above: a misspelt one is an error

    def __getattr__(name: str) -> Any:
        """A public name, imported from its module the first time it is asked for (PEP 562)."""
        import importlib
        import importlib.util

        home = _HOMES.get(name)
        if home is None:  # a module of the package (mnistlab.models.build_model after import mnistlab), as SciPy's
            if (not name.isidentifier() or name.startswith("_")  # (a dotted name: find_spec imports its parent,
                    or importlib.util.find_spec(f"mnistlab.{name}") is None):  # helper-192; helper-191: README's)
                raise AttributeError(f"module 'mnistlab' has no attribute {name!r}")
            home, name = name, ""

        from mnistlab.files import stop_signals_held

        # Ctrl-C waits for the import (torch's, seconds): one cut short leaves torch half-imported, and every
        # later try fails ("partially initialized module 'torch'") or crashes; it comes once the import is whole.
        with stop_signals_held():
            module = importlib.import_module(f"mnistlab.{home}")
        if not name:  # the module itself (importing it set the package's attribute too)
            return module
        value = getattr(module, name)
        globals()[name] = value  # asked once: later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        """The public names, the package's public modules (``mnistlab.plots``, loaded when first asked
        for; helper-237: completion never offered them) and the module's own dunders (what completion
        in a notebook offers). ``preprocess`` is the function; its module is ``preprocessing``."""
        import pkgutil

        modules = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")} - {"preprocess"}
        return sorted({*__all__, *modules, *(name for name in globals() if name.startswith("__"))})


class _Package(types.ModuleType):
    """The package's module type. ``preprocess`` is both a public function and the name of its
    module, and importing the module (``from mnistlab.preprocessing import ...``) sets the package's
    attribute to the module: the function stays (a module subclass, as the Python reference's
    "Customizing module attribute access" shows)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "preprocess" and isinstance(value, types.ModuleType):
            value = value.preprocess
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "__version__",
    "Dataset", "list_datasets", "load_dataset", "validation_split",
    "ModelSpec", "parse_model_spec", "load_model_spec", "save_model_spec",
    "build_model", "summarize", "format_summary", "resolve_model", "list_presets",
    "RunConfig", "parse_run_config", "run_config", "train", "Run", "RunResult", "TrainingInterrupted", "Callback",
    "load_trained", "load_model", "Committee", "preprocess", "list_images", "lr_find",
    "load_experiment", "run_experiment", "SweepInterrupted", "compare", "RunStore", "RunRecord",
    "MnistlabError", "DataError", "SpecError", "StoreError",
]
