"""Run config validation: defaults, round trips and every kind of bad input."""

from __future__ import annotations

import json

import pytest

from mnistlab._toml import dumps_toml, loads_toml
from mnistlab.config import AugmentConfig, RunConfig, apply_overrides, parse_run_config
from mnistlab.errors import SpecError

BASE = {"dataset": "fashion-mnist", "model": "seed000-dense"}


def parse(**extra):
    return parse_run_config({**BASE, **extra}, source="run.toml")


def test_defaults_are_keras_defaults():
    cfg = parse()
    assert cfg.train.batch_size == 32 and cfg.train.optimizer == "adam" and cfg.train.epochs == 5
    assert cfg.lr == 1e-3 and cfg.weight_decay == 0.0
    assert cfg.data.validation == 0.0 and cfg.augment is None and cfg.callbacks == []
    assert parse(train={"optimizer": "SGD"}).lr == 0.01
    assert parse(train={"optimizer": "adamw"}).weight_decay == 0.004


def test_resolved_is_plain_hashable_and_round_trips_through_json_and_toml():
    cfg = parse(
        data={"validation": 0.1, "stratify": True},
        train={"epochs": 3, "schedule": {"type": "Cosine", "warmup_epochs": 1}},
        augment={"rotation_range": 10},
        callbacks=[{"type": "reducelronplateau", "monitor": "val_accuracy", "factor": 0.5, "patience": 3}],
    )
    d = cfg.resolved()
    assert d["model"]["layers"][1]["units"] == 128  # the preset expanded to its layers
    assert d["train"]["lr"] == 1e-3 and d["data"]["split_seed"] == 0
    assert d["callbacks"][0]["type"] == "ReduceLROnPlateau" and d["train"]["schedule"]["type"] == "cosine"
    again = parse_run_config(json.loads(json.dumps(d)))
    assert again.resolved() == d
    assert json.dumps(again.resolved(), sort_keys=True) == json.dumps(d, sort_keys=True)
    from_toml = parse_run_config(loads_toml(dumps_toml(d)))
    assert from_toml.resolved() == d


def test_validation_forms():
    assert parse(data={"validation": "test"}).data.validation == "test"
    assert parse(data={"validation": 5000}).data.validation == 5000
    assert parse(data={"validation": 0.25}).data.validation == 0.25


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"train": {"lrr": 0.1}}, 'train: unknown key "lrr" (did you mean "lr"?)'),
        ({"trian": {}}, 'unknown key "trian" (did you mean "train"?)'),
        ({"data": {"validaton": 0.1}}, '(did you mean "validation"?)'),
        ({"augment": {"rotation": 10}}, '(did you mean "rotation_range"?)'),
        ({"train": {"optimizer": "adamm"}}, '(did you mean "adam"?)'),
        ({"train": {"epochs": "5"}}, "train.epochs"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"train": {"batch_size": -1}}, "train.batch_size"),
        ({"train": {"lr": 0}}, "train.lr"),
        ({"train": {"lr": float("nan")}}, "train.lr"),
        ({"train": {"seed": 2**70}}, "train.seed"),
        ({"train": {"device": "gpu0"}}, "unknown device"),
        ({"train": {"nesterov": True}}, "nesterov needs optimizer sgd"),
        ({"train": {"schedule": {"type": "cosin"}}}, 'unknown type "cosin" (did you mean "cosine"?)'),
        ({"train": {"schedule": {"type": "step", "gama": 0.5}}}, 'train.schedule: unknown key "gama"'),
        ({"train": {"schedule": "cosine"}}, "train.schedule"),
        ({"data": {"validation": 1.5}}, "data.validation"),
        ({"data": {"validation": -3}}, "data.validation"),
        ({"data": {"validation": True}}, "data.validation"),
        ({"data": {"validation": "tset"}}, "data.validation"),
        ({"data": {"subset": -1}}, "data.subset"),
        ({"callbacks": [{"type": "EarlyStoping"}]}, '(did you mean "EarlyStopping"?)'),
        ({"callbacks": [{"monitor": "loss"}]}, "callbacks[0]: missing type"),
        ({"callbacks": [{"type": "EarlyStopping", "patiense": 2}]}, 'callbacks[0]: unknown key "patiense" (did you mean "patience"?)'),
        ({"callbacks": [{"type": "ReduceLROnPlateau", "factor": 2.0}]}, "callbacks[0].factor"),
        ({"callbacks": [{"type": "StopAtLoss"}]}, "callbacks[0].threshold: required key is missing"),
        ({"callbacks": {"type": "StopAtLoss"}}, "callbacks: must be a list"),
        ({"callbacks": ["EarlyStopping"]}, "callbacks[0]: must be a table"),
        ({"augment": {"zoom_range": 1.5}}, "augment.zoom_range"),
        ({"augment": {"horizontal_flip": "yes"}}, "augment.horizontal_flip"),
        ({"train": []}, "train"),
    ],
)
def test_bad_values_name_the_source_and_key(extra, needle):
    with pytest.raises(SpecError) as err:
        parse(**extra)
    msg = str(err.value)
    assert msg.startswith("run.toml: ") and needle in msg and "\n" not in msg


def test_unknown_dataset_and_model_and_missing_keys():
    with pytest.raises(SpecError, match='dataset: .*did you mean "fashion-mnist"'):
        parse_run_config({"dataset": "fashion-mnsit", "model": "seed000-dense"})
    with pytest.raises(SpecError, match="model:"):
        parse_run_config({"dataset": "mnist", "model": "seed000-dence"})
    with pytest.raises(SpecError, match="model: required key is missing"):
        parse_run_config({"dataset": "mnist"})
    with pytest.raises(SpecError, match="must be a table"):
        parse_run_config(["dataset", "mnist"])  # type: ignore[arg-type]


def test_hostile_toml_is_one_line_error():
    with pytest.raises(SpecError, match="invalid TOML"):
        parse_run_config(loads_toml('dataset = "mnist"\n[train\nepochs = 2', source="run.toml"))
    deep = {"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": {"a": {"b": [1] * 1000}}}}
    with pytest.raises(SpecError, match="train.epochs"):
        parse_run_config(deep)


def test_config_is_frozen():
    cfg = parse()
    with pytest.raises(Exception):
        cfg.train.epochs = 3  # type: ignore[misc]


def test_apply_overrides_routes_flat_and_dotted_keys():
    raw = apply_overrides({**BASE, "train": {"epochs": 2}}, {"lr": 0.01, "validation": 0.2, "train.seed": 4,
                                                             "augment": {"rotation_range": 5.0}})
    cfg = parse_run_config(raw)
    assert (cfg.train.epochs, cfg.lr, cfg.train.seed, cfg.data.validation) == (2, 0.01, 4, 0.2)
    assert cfg.augment == AugmentConfig(rotation_range=5.0)
    with pytest.raises(SpecError, match='unknown setting "bach_size" \\(did you mean "batch_size"\\?\\)'):
        apply_overrides(BASE, {"bach_size": 3})
    with pytest.raises(SpecError, match="unknown section"):
        apply_overrides(BASE, {"model.units": 3})


def test_runconfig_has_exactly_the_contract_sections():
    assert list(RunConfig.model_fields) == ["dataset", "model", "data", "train", "augment", "callbacks"]


@pytest.mark.parametrize("section", ["train", "data", "augment"])
def test_overrides_on_a_section_that_is_not_a_table(section: str) -> None:
    from mnistlab.config import apply_overrides

    with pytest.raises(SpecError, match=f"{section}: must be a table"):
        apply_overrides({"dataset": "mnist", section: [1]}, {"epochs": 2}, source="run.toml")
