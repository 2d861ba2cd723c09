"""Run config validation: defaults, round trips and every kind of bad input."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pydantic
import pytest

from mnistlab._toml import dumps_toml, loads_toml
from mnistlab.config import (
    RUN_DEFAULTS, AugmentConfig, RunConfig, TrainConfig, apply_overrides, build_run_config, checkpoint_config,
    checkpoint_key, config_changes,
    optimizer_defaults, parse_augment, parse_run_config, run_key, setting_default, split_seed,
)
from mnistlab.errors import SpecError, SpecWarning

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
        ({"train": {"schedule": "cosine-ish"}}, "train.schedule"),  # (a type alone, "cosine", takes its defaults)
        ({"train": {"schedule": {"type": "step", "step_size": 1e-320}}},  # helper-195: divided by 0 mid-run
         "train.schedule.step_size: must be greater than or equal to 0.000001 (got 1e-320)"),
        ({"data": {"validation": 1.5}}, "data.validation"),
        ({"data": {"validation": -3}}, "data.validation"),
        ({"data": {"validation": True}}, "data.validation"),
        ({"data": {"validation": "tset"}}, "data.validation"),
        ({"data": {"subset": -1}}, "data.subset"),
        ({"callbacks": [{"type": "EarlyStoping"}]}, '(did you mean "EarlyStopping"?)'),
        ({"callbacks": [{"type": "TerminateOnNaN"}]},  # helper-155: "unknown type", not said to be built in
         "callbacks[0]: Keras's TerminateOnNaN is no callback mnistlab takes: a run whose loss turns NaN"),
        ({"callbacks": [{"type": "learningratescheduler", "schedule": "f"}]},
         "Keras's LearningRateScheduler is no callback mnistlab takes: a schedule of the learning rate is train.schedule"),
        ({"callbacks": [{"type": "EarlyStopping", "monitor": "lr"}]}, 'callbacks[0]: mode "auto" cannot tell'),
        ({"callbacks": [{"monitor": "loss"}]}, "callbacks[0]: missing type"),
        ({"callbacks": [{"type": "EarlyStopping", "patiense": 2}]},
         'callbacks[0]: unknown key "patiense" (did you mean "patience"?)'),
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
    with pytest.raises(SpecError) as exc:  # missing beside a typo of it: the typo is the news, at its own line
        parse_run_config({"dataset": "mnist", "modle": "seed000-dense"}, source="run.toml")
    assert str(exc.value) == ('run.toml: unknown key "modle" (did you mean "model"?); known keys: dataset, model, '
                              "data, train, augment, callbacks, evaluate, weights") and exc.value.path == ("modle",)
    with pytest.raises(SpecError, match="must be a table"):
        parse_run_config(["dataset", "mnist"])  # type: ignore[arg-type]


@pytest.mark.parametrize("key, hint", [
    ("lrate", ' (did you mean "lr"?)'),  # helper-96: was "evaluate", the nearest top-level key by spelling
    ("learning_rate", " (Keras 3's learning_rate is lr here, train.lr)"),  # Keras's word: was no hint at all
    ("epoch", ' (did you mean "epochs"?)'),
    ("validation_split", " (Keras's validation_split is data.validation here, a fraction or a count; "),
])
def test_a_bare_set_key_is_hinted_among_train_and_data_keys_too(key: str, hint: str):
    """`--set lr=0.1` means train.lr: an unknown bare key is matched against those keys too."""
    with pytest.raises(SpecError) as exc:
        build_run_config(settings=[f"{key}=0.1"])
    assert str(exc.value).startswith(f'command line: unknown key "{key}"{hint}') and exc.value.path == (key,)
    assert str(exc.value).endswith("known keys: dataset, model, data, train, augment, callbacks, evaluate, weights, and "
                                   "train's and data's keys alone (lr, epochs, validation, ...)")


def test_hostile_toml_is_one_line_error():
    with pytest.raises(SpecError, match="invalid TOML"):
        parse_run_config(loads_toml('dataset = "mnist"\n[train\nepochs = 2', source="run.toml"))
    deep = {"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": {"a": {"b": [1] * 1000}}}}
    with pytest.raises(SpecError, match="train.epochs"):
        parse_run_config(deep)


def test_config_is_frozen():
    cfg = parse()
    with pytest.raises(pydantic.ValidationError):
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
    assert list(RunConfig.model_fields) == ["dataset", "model", "data", "train", "augment", "callbacks", "evaluate",
                                            "weights"]


@pytest.mark.parametrize("section", ["train", "data", "augment"])
def test_overrides_on_a_section_that_is_not_a_table(section: str) -> None:
    from mnistlab.config import apply_overrides

    with pytest.raises(SpecError, match=f"{section}: must be a table"):
        apply_overrides({"dataset": "mnist", section: [1]}, {"epochs": 2}, source="run.toml")


# ------------------------------------------------------------------------------- key paths
@pytest.mark.parametrize(("extra", "path"), [
    ({"train": {"lrr": 0.1}}, ("train", "lrr")),
    ({"trian": {}}, ("trian",)),
    ({"train": {"epochs": 0}}, ("train", "epochs")),
    ({"train": {"nesterov": True}}, ("train",)),  # a check across fields: the section
    ({"train": {"schedule": {"type": "cosin"}}}, ("train", "schedule")),
    ({"train": {"schedule": {"type": "step", "gama": 0.5}}}, ("train", "schedule", "gama")),
    ({"data": {"validation": 1.5}}, ("data", "validation")),
    ({"callbacks": [{"type": "EarlyStopping", "patiense": 2}]}, ("callbacks", 0, "patiense")),
    ({"callbacks": [{"type": "StopAtLoss"}]}, ("callbacks", 0, "threshold")),
    ({"callbacks": [{"type": "EarlyStopping"}]}, ("callbacks", 0, "monitor")),  # val_loss without validation
    ({"model": "seed000-dence"}, ("model",)),
    ({"model": {"conv": [0]}}, ("model", "conv", 0)),  # an inline model: on into it (its line in this file)
    ({"dataset": "mnsit"}, ("dataset",)),
])
def test_errors_carry_the_key_path_and_source(extra, path):
    with pytest.raises(SpecError) as err:
        parse(**extra)
    assert (err.value.path, err.value.source) == (path, "run.toml")


def test_augment_alone_is_validated_with_its_path():
    assert parse_augment({"zoom_range": 0.1}).zoom_range == 0.1
    with pytest.raises(SpecError, match="^aug.toml: augment.zoom_range: ") as err:
        parse_augment({"zoom_range": 1.5}, source="aug.toml")
    assert err.value.path == ("augment", "zoom_range")


# ------------------------------------------------------------------------------- derived values
def test_lr_and_weight_decay_defaults_come_from_the_optimizer_registry():
    for name in ("adam", "adamw", "sgd", "rmsprop"):
        cfg = parse(train={"optimizer": name})
        keras = optimizer_defaults(name)
        assert cfg.lr == cfg.resolved()["train"]["lr"] == keras["lr"]
        assert cfg.weight_decay == cfg.resolved()["train"]["weight_decay"] == keras.get("weight_decay", 0.0)
    explicit = parse(train={"optimizer": "adamw", "lr": 0.5, "weight_decay": 0.1}).resolved()["train"]
    assert (explicit["lr"], explicit["weight_decay"]) == (0.5, 0.1)


def test_model_spec_is_resolved_once_and_kept(tmp_path: Path):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text('{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]}')
    cfg = parse_run_config({**BASE, "model": str(spec_file)})
    spec = cfg.model_spec()
    spec_file.unlink()  # not read again: the spec parse_run_config resolved is the one the run uses
    assert cfg.model_spec() is spec and cfg.resolved()["model"] == spec.to_dict()
    assert type(spec).__name__ == "ModelSpec"
    assert cfg == parse_run_config({**BASE, "model": str(spec_file)}, check_model=False)  # the cache is no field
    other = cfg.model_copy(update={"model": "seed000-dense"})
    assert other.model_spec().name == "seed000-dense"  # a copy with another model resolves its own


def test_checkpoint_key_and_run_key_ignore_different_things():
    d = parse(train={"epochs": 3}).resolved()

    def changed(**train):
        return {**d, "train": {**d["train"], **train}}

    assert run_key(d) == run_key(changed(threads=7, device="cpu")) != run_key(changed(epochs=4))
    assert run_key(d) != run_key(d, version="0.0.1")
    assert checkpoint_key(d) == checkpoint_key(changed(epochs=9, threads=7)) != checkpoint_key(changed(device="cpu"))
    assert len(run_key(d)) == len(checkpoint_key(d)) == 16 and run_key(d) != checkpoint_key(d)


def test_the_settings_said_of_a_run_are_those_its_optimizer_takes():
    """helper-174: `train --optimizer adamax --set train.amsgrad=true` warned "adamax ignores it",
    then its training line said "adamax lr 0.001 (amsgrad)"."""
    from mnistlab.config import optimizer_settings_said

    given = {"amsgrad": True, "centered": True, "momentum": 0.9, "nesterov": True, "beta_1": 0.8, "rho": 0.8,
             "weight_decay": 0.01}.get
    assert optimizer_settings_said(given, "adamax") == [("weight_decay", 0.01), ("beta_1", 0.8)]
    assert [k for k, _ in optimizer_settings_said(given, "adam")] == ["amsgrad", "weight_decay", "beta_1"]
    assert [k for k, _ in optimizer_settings_said(given, "sgd")] == ["momentum", "nesterov", "weight_decay"]
    assert [k for k, _ in optimizer_settings_said(given, "rmsprop")] == ["momentum", "centered", "weight_decay", "rho"]


def test_config_changes_names_what_a_checkpoint_key_sees_changed():
    d = parse(train={"epochs": 3}).resolved()
    before = json.loads(checkpoint_config(d))
    assert config_changes(before, json.loads(checkpoint_config({**d, "train": {**d["train"], "epochs": 9}}))) == ""
    other = parse(model="seed000-cnn", train={"epochs": 3, "lr": 0.01, "optimizer": "sgd"}).resolved()
    text = config_changes(before, json.loads(checkpoint_config(other)), most=2)
    assert text.count(" was ") == 2 and text.endswith("more") and "model" in text
    layers = [dict(layer) for layer in d["model"]["layers"]]
    layers[1] = {**layers[1], "units": 64}
    wider = {**d, "model": {**d["model"], "layers": layers}}
    assert config_changes(before, json.loads(checkpoint_config(wider))) == "model.layers[1].units was 128, now 64"
    assert config_changes({"a": [1, 2]}, {"a": [1, 2, 3], "b": "x"}) == "a was 2 items, now 3 items; b was not set, now 'x'"
    assert config_changes({"a": 1}, {"a": 1.0}) == "a was 1, now 1.0"  # the hash tells them apart too
    digest, other_digest = "fac271" + "0" * 58, "c23e" + "1" * 60  # helper-171: a long string lost its closing quote
    assert config_changes({"sha256": digest}, {"sha256": other_digest}) == (
        f"sha256 was '{digest[:35]}...', now '{other_digest[:35]}...'")
    subset = parse(train={"epochs": 3}, data={"subset": 600}).resolved()  # helper-174: "data.subset was 0"
    assert config_changes(before, json.loads(checkpoint_config(subset))) == "data.subset was not set (every image), now 600"
    assert config_changes(subset["data"], d["data"]) == "subset was 600, now 0"  # a 0 elsewhere is a 0


# ------------------------------------------------------------------------------- layering
def test_defaults_live_in_the_schema():
    assert setting_default("epochs") == setting_default("train.epochs") == TrainConfig().epochs
    assert setting_default("validation") == 0.0 and setting_default("augment.zoom_range") == 0.0
    assert (setting_default("dataset"), setting_default("model")) == (RUN_DEFAULTS["dataset"], RUN_DEFAULTS["model"])
    with pytest.raises(SpecError, match='unknown setting "epoch" \\(did you mean "epochs"\\?\\)'):
        setting_default("epoch")
    from mnistlab.run import _train_config, train

    defaults = {k: p.default for k, p in inspect.signature(train).parameters.items()}
    assert (defaults["dataset"], defaults["model"]) == (RUN_DEFAULTS["dataset"], RUN_DEFAULTS["model"])
    assert defaults["epochs"] is None  # the schema's, unless train={"epochs": ...} gives it (helper-230)
    assert _train_config("mnist", "seed000-dense", None, {}, validating=False)[0].train.epochs == TrainConfig().epochs


def test_build_run_config_layers_defaults_file_settings_flags(tmp_path: Path):
    assert build_run_config() == parse_run_config(dict(RUN_DEFAULTS))
    (tmp_path / "tiny.json").write_text('{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}')
    run = tmp_path / "run.toml"
    run.write_text('dataset = "mnist"\nmodel = "tiny.json"\n[train]\nepochs = 3\nbatch_size = 8\nlr = 0.5\n')
    cfg = build_run_config(run)
    assert (cfg.dataset, cfg.train.epochs, cfg.train.batch_size, cfg.lr) == ("mnist", 3, 8, 0.5)
    assert cfg.model == str(tmp_path / "tiny.json")  # a spec file named by the file is beside it
    cfg = build_run_config(run, ["train.epochs=4", "lr=0.25", "train.schedule.type=cosine", 'augment.fill_mode="constant"'],
                           {"batch_size": 16, "seed": None})
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.lr, cfg.train.seed) == (4, 16, 0.25, 0)  # over the file
    assert cfg.train.schedule.type == "cosine" and cfg.augment.fill_mode == "constant"
    with pytest.raises(SpecError, match="--set train.lr contradicts --lr") as err:
        build_run_config(settings=["train.lr=0.2"], flags={"lr": 0.1})
    assert err.value.path == ("train", "lr")
    # Python's True / False, as a Keras user writes them, are TOML's true / false
    cfg = build_run_config(settings=["augment.horizontal_flip=True", "augment.vertical_flip=false", "data.stratify=True",
                                     "data.validation=0.1"])
    assert cfg.augment.horizontal_flip is True and cfg.augment.vertical_flip is False and cfg.data.stratify is True
    with pytest.raises(SpecError, match=r"^--set train.optimizer: not a TOML list: nested too deeply$"):  # hostile nesting:
        build_run_config(settings=["train.optimizer=" + "[" * 5000])  # one line, never a RecursionError
    off = tmp_path / "off.toml"
    off.write_text('dataset = "mnist"\nmodel = "seed000-dense"\naugment = false\n')
    assert build_run_config(off).augment is None
    assert build_run_config(off, ["augment.rotation_range=5.0"]).augment.rotation_range == 5.0  # a setting turns it on


def test_every_mistake_of_a_config_is_said_at_once_on_one_line(tmp_path: Path):
    """New-user finding (helper-98): two bad --set keys reported only the first: each fix cost a run."""
    with pytest.raises(SpecError) as err:
        build_run_config(settings=["train.epocs=2", "data.valdation=0.1"])
    assert str(err.value) == ('command line: data: unknown key "valdation" (did you mean "validation"?); known keys: '
                              "validation, split, stratify, split_seed, test_seed, subset, shuffle; "
                              'and 1 more: train.epocs: unknown key (did you mean "epochs"?)')
    assert err.value.path == ("data", "valdation")  # the first problem's, for its line in a file
    run = tmp_path / "run.toml"
    run.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n\n[train]\nepochs = 0\nbatchsize = 4\nlr = "fast"\n'
                   '[data]\nvalidation = -1\n')
    with pytest.raises(SpecError) as err:
        build_run_config(run)
    message = str(err.value)
    assert message.startswith(f"{run}:9: data.validation: ") and "\n" not in message
    assert message.count("; and 3 more: ") == 1 and message.endswith(
        '; and 3 more: train.epochs: must be greater than or equal to 1 (got 0); '
        'train.lr: must be a valid number (got "fast"); train.batchsize: unknown key (did you mean "batch_size"?)'), message
    # the model and the dataset are checked beside the other keys, not once those are right
    with pytest.raises(SpecError) as err:
        parse_run_config({"dataset": "mnistt", "model": "dense", "train": {"epochs": "three"}}, source="c.toml")
    assert str(err.value).startswith('c.toml: train.epochs: must be a valid integer (got "three"); and 2 more: '
                                     "dataset: unknown dataset 'mnistt'"), err.value
    assert [e.path for e in err.value.apart] == [("train", "epochs"), ("dataset",), ("model",)]
    assert 'model: unknown model "dense"' in str(err.value.apart[2])
    with pytest.raises(SpecError) as err:  # a model the validation already refuses is said once
        parse_run_config({"dataset": "mnist", "model": 3, "train": {"epochs": "three"}})
    assert str(err.value).count("model") == 1 and len(err.value.apart) == 2, err.value
    # a key missing beside an unknown one of its table is that key mistyped: said once, as the unknown key
    with pytest.raises(SpecError) as err:
        parse_run_config({"dataset": "mnist", "modle": "seed000-dense"})
    assert "and 1 more" not in str(err.value) and 'unknown key "modle" (did you mean "model"?)' in str(err.value)


def test_build_run_config_says_who_set_the_bad_value(tmp_path: Path):
    run = tmp_path / "run.toml"
    run.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n\n[train]\nepochs = 0\nlrr = 1\n')
    with pytest.raises(SpecError) as err:
        build_run_config(run)
    assert str(err.value).startswith(f"{run}:5: train.epochs:")
    assert (err.value.path, err.value.source, err.value.line) == (("train", "epochs"), str(run), 5)
    with pytest.raises(SpecError) as err:
        build_run_config(run, flags={"epochs": 2})
    assert str(err.value).startswith(f'{run}:6: train: unknown key "lrr"')
    with pytest.raises(SpecError) as err:
        build_run_config(run, ["train.lrr=2"], flags={"epochs": 2})  # the setting now gives the unknown key
    assert str(err.value).startswith('command line: train: unknown key "lrr"') and err.value.source == "command line"
    with pytest.raises(SpecError, match="^notebook: train.epochs: "):
        build_run_config(flags={"epochs": -1}, label="notebook")
    with pytest.raises(SpecError, match='the model is a list of layers \\(a preset or spec file\\), which has no key "units"'):
        build_run_config(settings=["model.units=3"])  # a preset by name: the layers it stands for


@pytest.mark.parametrize(("setting", "said"), [
    ('augment={rotation_range=10, rotation_range=20}',
     "--set augment: not a TOML table: Duplicate inline table key 'rotation_range' (at character 38 of it)"),
    ('callbacks=[{type="ReduceLROnPlateau", monitor="loss", monitor="lr"}]',
     "--set callbacks: not a TOML list: Duplicate inline table key 'monitor'"),
    ("model.dense=[8,", "--set model.dense: not a TOML list: Invalid value (at its end)"),
])
def test_a_set_table_toml_refuses_says_why(setting: str, said: str):
    """helper-195: a key given twice in an inline table was read as a string, which then "must be a table"."""
    with pytest.raises(SpecError) as err:
        build_run_config(settings=[setting])
    assert str(err.value).startswith(said), str(err.value)
    cfg = build_run_config(settings=['model={"dense": [8]}'])  # JSON, read as before (helper-197: refused as TOML)
    assert [layer.get("units") for layer in cfg.model_spec().to_dict()["layers"] if layer["type"] == "Dense"][0] == 8


@pytest.mark.parametrize("text", ["", "# only a comment: the rest was cut off\n", "\n\n"])
def test_an_empty_config_file_is_an_error_not_a_default_run(tmp_path: Path, text: str):
    f = tmp_path / "run.toml"
    f.write_text(text)
    with pytest.raises(SpecError, match=r"run.toml: the file sets nothing \(empty, or cut short\?\)"):
        build_run_config(f)


@pytest.mark.parametrize("train, needle", [
    ({"beta_1": 1.0}, "train.beta_1: must be less than 1"),
    ({"beta_1": -0.1}, "train.beta_1: must be greater than or equal to 0"),
    ({"beta_2": "0.9"}, "train.beta_2: must be a valid number"),
    ({"beta_2": True}, "train.beta_2: must be a valid number (got true)"),  # TOML's spelling, not Python's True
    ({"epochs": True}, "train.epochs: must be a valid integer (got true)"),
    ({"optimizer": None}, "train.optimizer: must be a valid string (got null)"),
    ({"beta_1": float("nan")}, "train.beta_1"),
    ({"beta_1": [0.9]}, "train.beta_1: must be a valid number (got array [0.9])"),
    ({"epsilon": 0}, "train.epsilon: must be greater than 0"),
    ({"epsilon": float("inf")}, "train.epsilon"),
    ({"epsilon": 2}, "train.epsilon: must be less than or equal to 1"),
    ({"beta1": 0.9}, 'train: unknown key "beta1" (did you mean "beta_1"?)'),
    ({"betas": [0.9, 0.99]}, 'train: unknown key "betas"'),
])
def test_bad_optimizer_knobs_are_one_line_errors(train, needle):
    with pytest.raises(SpecError) as err:
        parse(train=train)
    assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_optimizer_knobs_default_to_keras_and_are_resolved():
    t = parse(train={"optimizer": "nadam"}).resolved()["train"]
    assert (t["beta_1"], t["beta_2"], t["epsilon"]) == (0.9, 0.999, 1e-7)  # Keras's defaults, recorded
    t = parse(train={"beta_1": 0.7, "beta_2": 0.9, "epsilon": 1e-8}).resolved()["train"]
    assert (t["beta_1"], t["beta_2"], t["epsilon"]) == (0.7, 0.9, 1e-8)
    t = parse(train={"optimizer": "rmsprop"}).resolved()["train"]
    assert (t["beta_1"], t["beta_2"], t["epsilon"]) == (None, None, 1e-7)
    assert parse(train={"optimizer": "sgd"}).resolved()["train"]["epsilon"] is None
    same = parse(train={"beta_1": 0.9}).resolved()
    assert run_key(same) == run_key(parse().resolved())  # the default written out is the same run
    with pytest.warns(SpecWarning, match=r"train.beta_1 = 0.7 applies to adam, adamw, nadam, adamax; sgd ignores it"):
        parse(train={"optimizer": "sgd", "beta_1": 0.7})
    with pytest.warns(SpecWarning, match=r"train.epsilon = 0.001 applies to adam, adamw, nadam, adamax, adagrad, rmsprop"):
        parse(train={"optimizer": "sgd", "epsilon": 1e-3})


# ------------------------------------------------------------------------- callbacks' watched values
@pytest.mark.parametrize(("callback", "field", "hint"), [
    ({"type": "EarlyStopping", "monitor": "val_acc"}, "monitor", 'did you mean "val_accuracy"?'),  # Keras 2's name
    ({"type": "ReduceLROnPlateau", "monitor": "acc"}, "monitor", 'did you mean "accuracy"?'),
    ({"type": "ReduceLROnPlateau", "monitor": "val_los"}, "monitor", 'did you mean "val_loss"?'),
    ({"type": "StopAtLoss", "threshold": 0.1, "monitor": "los"}, "monitor", 'did you mean "loss"?'),
    ({"type": "EarlyStopping", "monitor": "learning_rate"}, "monitor", 'did you mean "lr"?'),  # Keras 3's key
    ({"type": "ModelCheckpoint", "filepath": "e.safetensors", "save_best_only": True, "monitor": "val_acc"}, "monitor",
     '"val_accuracy"'),
    ({"type": "ModelCheckpoint", "filepath": "e.safetensors", "monitor": "val_acc"}, "monitor", '"val_accuracy"'),  # unread
    ({"type": "ModelCheckpoint"}, "filepath", "required key is missing: where it saves, as Keras asks"),  # helper-143
    ({"type": "ModelCheckpoint", "filepath": "e{epoch}-{val_acc:.2f}.safetensors"}, "filepath", '"val_accuracy"'),
    ({"type": "ModelCheckpoint", "filepath": "e{epoch}-{acuracy}.safetensors"}, "filepath", '"accuracy"'),
    ({"type": "ModelCheckpoint", "filepath": "e{epoch:03q}.safetensors"}, "filepath", "Unknown format code 'q'"),
    ({"type": "ModelCheckpoint", "filepath": "e{loss:%Y}.safetensors"}, "filepath", "Invalid format specifier"),
    ({"type": "ModelCheckpoint", "filepath": "e{epoch.safetensors"}, "filepath", "expected '}'"),
    ({"type": "ModelCheckpoint", "filepath": "e{}.safetensors"}, "filepath", "positional {} field"),
    ({"type": "ModelCheckpoint", "filepath": "e{lr[0]}.safetensors"}, "filepath", "reaches into a value"),
])
def test_callbacks_watch_only_what_a_run_logs(callback, field, hint):
    # issue 14: Keras finds these after an epoch (and EarlyStopping goes quietly inert); here they
    # are one-line errors before training, even with validation data.
    with pytest.raises(SpecError) as err:
        parse(data={"validation": 0.1}, callbacks=[{"type": "StopAtLoss", "threshold": 0.1}, callback])
    msg = str(err.value)
    assert msg.startswith(f"run.toml: callbacks[1].{field}: ") and hint in msg and "\n" not in msg
    assert (err.value.path, err.value.source) == (("callbacks", 1, field), "run.toml")


def test_callbacks_may_watch_every_value_a_run_logs():
    from mnistlab.callbacks import EPOCH_LOG_KEYS

    every = "-".join(f"{{{k}:.3f}}" for k in EPOCH_LOG_KEYS)
    cfg = parse(data={"validation": 0.1}, callbacks=[
        *({"type": "EarlyStopping", "monitor": k, "mode": "min" if k == "lr" else "auto"} for k in EPOCH_LOG_KEYS),
        {"type": "ModelCheckpoint", "filepath": f"ckpt/{{epoch:03d}}-{every}.safetensors", "save_best_only": True,
         "initial_value_threshold": 0.5},
    ])
    assert [cb.monitor for cb in cfg.callbacks[:-1]] == list(EPOCH_LOG_KEYS)
    parse(callbacks=[{"type": "ModelCheckpoint", "filepath": "val_runs/{{literal}}/e{epoch}.safetensors"}])


def test_a_bad_monitor_in_a_run_file_names_its_line(tmp_path: Path):
    run = tmp_path / "run.toml"
    run.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[data]\nvalidation = 0.1\n\n'
                   '[[callbacks]]\ntype = "EarlyStopping"\npatience = 2\nmonitor = "val_acc"\n')
    with pytest.raises(SpecError) as err:
        build_run_config(run)
    assert str(err.value).startswith(f'{run}:9: callbacks[0].monitor: "val_acc" is not a value a run logs '
                                     '(did you mean "val_accuracy"?)')
    assert err.value.line == 9
    run.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[[callbacks]]\ntype = "ModelCheckpoint"\n'
                   'filepath = "best-{val_acc:.2f}.safetensors"\n')
    with pytest.raises(SpecError, match=f'^{run}:5: callbacks\\[0\\].filepath: .*did you mean "val_accuracy"'):
        build_run_config(run)


def test_the_split_seed_is_the_fixed_one_else_the_runs_seed_in_configs_and_records() -> None:
    follows = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"seed": 3}})
    fixed = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"seed": 3},
                              "data": {"split_seed": 7}})
    assert (follows.split_seed, fixed.split_seed) == (3, 7)
    assert split_seed(follows.resolved()) == 3 and follows.resolved()["data"]["split_seed"] == 3
    assert split_seed(fixed.resolved()) == 7
    assert split_seed({"train": {"seed": 5}, "data": {"split_seed": None}}) == 5  # a record that did not spell it out
    assert split_seed({}) == 0 and split_seed({"data": {"split_seed": 0}, "train": {"seed": 9}}) == 0


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 3}, 'unknown key "epochs": it is a key of train (write train.epochs = 3)'),
    ({"lr": 0.01}, "it is a key of train (write train.lr = 0.01"),
    ({"rotation_range": 10}, "it is a key of augment (write augment.rotation_range = 10"),
    ({"train.lr": 0.01}, '"train.lr": a dotted key in quotes is one name here; a variant, a [grid] and --set take it '
                         "as a path, but here write the tables out (train = { ... }, or the dotted key unquoted)"),
    ({"model.layers[0].units": 3}, 'to set it for every variant, write it in a top-level [grid] with one value '
                                   '("model.layers[0].units" = [3]), or write the layers out'),  # a preset's layer
    ({"modle": "x"}, 'unknown key "modle" (did you mean "model"?)'),  # a typo of a top-level key stays one
])
def test_a_tables_key_at_the_top_says_which_table_it_belongs_to(settings, message):
    with pytest.raises(SpecError) as err:
        parse_run_config({"dataset": "mnist", **settings}, source="run.toml")
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_keras_spellings_of_an_optimizer_and_an_input_layer_say_how_mnistlab_writes_them(tmp_path: Path) -> None:
    """New-user finding: `optimizer = { type = "Adam", learning_rate = 0.01 }` said only "must be a
    valid string", and a `{ type = "Input" }` layer "unknown layer type"; each says the mnistlab way."""
    from mnistlab.experiments import load_experiment

    with pytest.raises(SpecError) as exc:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense",
                          "train": {"optimizer": {"type": "Adam", "learning_rate": 0.01, "beta_1": 0.8}}})
    assert ('train.optimizer: is a name, not a table: optimizer = "adam", and its settings as train keys '
            "(train.lr = 0.01, train.beta_1 = 0.8)") in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(SpecError) as exc:  # Keras's saved form (helper-143: "train.config = {...}")
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"optimizer": {
            "class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.01, "momentum": 0.9, "clipnorm": None}}}})
    assert str(exc.value).endswith('optimizer = "sgd", and its settings as train keys (train.lr = 0.01, train.momentum = 0.9)')
    with pytest.raises(SpecError) as exc:  # its module and registered name are no train keys; clipnorm is refused
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"optimizer": {
            "module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
            "config": {"name": "adam", "learning_rate": 0.01, "amsgrad": True, "clipnorm": 1.0}}}})
    assert str(exc.value).endswith("(train.lr = 0.01, train.amsgrad = true); clipnorm: not offered here")
    with pytest.raises(SpecError, match=r"is a name, not a table, and Lion is not one of mnistlab's optimizers: adam, "):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"optimizer": {
            "class_name": "Lion", "config": {"learning_rate": 0.01}}}})  # helper-145: optimizer = "lion", then refused
    p = tmp_path / "i.toml"
    p.write_text('[base]\ndataset = "mnist"\nmodel = { layers = [{ type = "Input", shape = [28, 28, 1] }, '
                 '{ type = "Flatten" }, { type = "Dense", units = 10 }] }\n')
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    assert str(exc.value).startswith(f'{p}:3: ') and 'layers[0]: "Input" is not a layer here: the input is the ' \
        "model's input_shape, beside its layers (model = { input_shape = [28, 28, 1], layers = [...] })" in str(exc.value)


@pytest.mark.parametrize(("layer", "said"), [
    ('{ type = "Add" }', '"Add" is not a layer here: Keras\'s Add of a shortcut is a Residual block: { type = "Residual"'),
    ('{ type = "LeakyReLU", negative_slope = -0.1 }', "negative_slope must be a number from 0 (Keras's LeakyReLU refuses "
     "a negative one), got float -0.1"),
    ('{ type = "ReLU", max_value = 5 }', "layers[1] (ReLU): max_value = 5: mnistlab's relu activation has max_value = "
     "null, and no other"),
    ('{ type = "Reshape", target_shape = [28, 28, 1] }', '"Reshape" is not a layer here: a model\'s input is the image its '
     "input_shape says"),
    ('{ type = "Dense", units = 4, kernel_initializer = { class_name = "TruncatedNormal" } }',
     "layers[1] (Dense): kernel_initializer: Keras's TruncatedNormal is no initializer mnistlab builds (glorot_uniform"),
    ('{ type = "Dense", units = 4, bias_initializer = "ones" }',
     "unknown key 'bias_initializer' (biases start at zeros, Keras's default bias_initializer; no other is offered"),
    ('{ type = "AlphaDropout", rate = 0.2 }',  # helper-155: offered Dropout, which keeps no self-normalising mean
     "layers[1]: Keras's AlphaDropout is a layer mnistlab does not build; choose from Flatten, Dense"),
    ('{ type = "layernormalization" }', "layers[1]: Keras's LayerNormalization is a layer mnistlab does not build"),
    ('{ type = "RandomRotation", factor = 0.1 }', "Keras's RandomRotation is a layer mnistlab does not build (random "
     "augmentation is a run's augment table here: augment = { rotation_range = 36 } (its factor 0.1 is a fraction of "
     "a turn))"),  # helper-195: the hint's 10 read as RandomRotation's units; 0.1 was 36 degrees
    ('{ type = "RandomFlip", mode = "horizontal" }', "augment table here: augment = { horizontal_flip = true })"),
    ('{ type = "RandomContrast", factor = 0.2 }', "augment table here: augment = { rotation_range = 10, ... })"),
])
def test_keras_layers_written_another_way_here_say_how(tmp_path: Path, layer: str, said: str) -> None:
    """New-user finding (helper-99): `Add` was an "unknown layer type" without a word of Residual, and
    `bias_initializer` got "did you mean kernel_initializer", which is another thing. Keras's
    activation layers and saved initializers at settings mnistlab does not build say which."""
    spec = tmp_path / "m.toml"
    spec.write_text(f'layers = ["Flatten", {layer}, {{ type = "Dense", units = 10 }}]\n')
    with pytest.raises(SpecError) as exc:
        build_run_config(None, flags={"model": str(spec), "dataset": "mnist"})
    assert said in str(exc.value) and "did you mean" not in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_keras_activation_layers_and_saved_initializers_read_in_a_spec_as_in_keras_json() -> None:
    """Note 38: a spec refused `{ type = "ReLU" }` and `kernel_initializer = { class_name = "HeNormal" }`,
    which the same model's Keras JSON reads: both read as the JSON reads them, the same run as the
    Activation layer and the initializer's name; a flat input_shape [784] says what to write."""
    from mnistlab.specs import ModelSpec

    def key(layers: list[dict]) -> str:
        return run_key(parse_run_config({"dataset": "mnist", "model": {"layers": layers}}).resolved())

    written = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "kernel_initializer": {
        "module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": 3}, "registered_name": None}},
        {"type": "relu"}, {"type": "Flatten"}, {"type": "Dense", "units": 10, "bias_initializer": "zeros"},
        {"type": "LeakyReLU", "alpha": 0.2}, {"type": "Softmax", "axis": -1}]  # helper-130: tf.keras 2's alpha, zeros
    plain = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "kernel_initializer": "he_normal"},
             {"type": "Activation", "activation": "relu"}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
             {"type": "Activation", "activation": "leaky_relu"}, {"type": "Activation", "activation": "softmax"}]
    assert key(written) == key(plain)
    def computed(layer: dict) -> dict:  # (keras_class: the Keras layer written, for the summary's names)
        return {k: v for k, v in layer.items() if k != "keras_class"}

    assert [computed(layer.to_dict()) for layer in ModelSpec.from_dict({"layers": written}).layers] == [
        layer.to_dict() for layer in ModelSpec.from_dict({"layers": plain}).layers]
    assert [getattr(layer, "keras_class", None) for layer in ModelSpec.from_dict({"layers": written}).layers] == [
        None, "ReLU", None, None, "LeakyReLU", "Softmax"]
    with pytest.raises(SpecError, match=r"^input_shape \[784\] is a flat image: a model's input is the image, "
                                        r"\[28, 28, 1\] \(the default for MNIST\), and a Flatten first"):
        ModelSpec.from_dict({"input_shape": [784], "layers": plain})
    for first, last in (([1, 28, 28], [28, 28, 1]), ([3, 32, 32], [32, 32, 3])):  # helper-259: "a 3x3 window is larger
        with pytest.raises(SpecError, match=rf"^input_shape \[{first[0]}, {first[1]}, {first[2]}\] reads channels first, "
                                            rf"as PyTorch writes it: .* \[{last[0]}, {last[1]}, {last[2]}\]$") as err:
            ModelSpec.from_dict({"input_shape": first, "layers": plain})  # than the 1x28 input map", at the Conv2D
        assert err.value.path == ("input_shape",)
    assert ModelSpec.from_dict({"input_shape": [3, 5, 2], "layers": ["Flatten", {"type": "Dense", "units": 2}]})
    for batch in (1, None):  # helper-262: Keras's batch_shape, the batch first
        with pytest.raises(SpecError, match=r"its first is the batch, which a model's input_shape leaves out, as "
                                            r"Keras's does: \[28, 28, 1\]$"):
            ModelSpec.from_dict({"input_shape": [batch, 28, 28, 1], "layers": plain})
    with pytest.raises(SpecError, match=r"rate must be in \[0, 1\], got 50 \(50% is 0.5\)"):
        ModelSpec.from_dict({"layers": ["Flatten", {"type": "Dropout", "rate": 50}, {"type": "Dense", "units": 2}]})


@pytest.mark.parametrize("written", ["mixed_bfloat16", "bfloat16", "BF16", "Mixed_BFloat16"])
def test_keras_dtype_policy_names_are_bf16(written: str, capsys) -> None:
    """New-user finding (helper-99): --precision bfloat16 was refused; Keras calls bf16 compute
    with float32 weights the mixed_bfloat16 policy."""
    assert parse_run_config({"dataset": "mnist", "model": "seed000-dense",
                             "train": {"precision": written}}).train.precision == "bf16"
    assert build_run_config(None, flags={"precision": written.lower()}).train.precision == "bf16"
    from mnistlab.cli import main

    assert main(["train", "--precision", written, "--epochs", "0"]) == 2  # the flag takes it; epochs 0 stops it there
    assert "--precision" not in capsys.readouterr().err


def test_written_toml_leaves_out_a_table_of_nothing_but_nulls() -> None:
    """New-user finding (helper-99): search-best wrote an empty [base.evaluate] (its tta null); a
    table written empty stays: it says "this table, at its defaults"."""
    data = {"base": {"evaluate": {"tta": None}, "augment": {}, "data": {"subset": None, "validation": 0.1},
                     "deep": {"inner": {"x": None}}}}
    text = dumps_toml(data)
    assert "evaluate" not in text and "deep" not in text and "[base.augment]" in text
    assert loads_toml(text) == {"base": {"augment": {}, "data": {"validation": 0.1}}}


def test_written_toml_keeps_a_short_array_of_values_on_one_line() -> None:
    """New-user finding (helper-99): `search-best -o best.toml` wrote input_shape = [ then 28, 28, 1
    a line each (tomli_w writes every array so)."""
    data = {"input_shape": [28, 28, 1], "strings": ["a, b", 'c"d', "x]"], "long": list(range(40)),
            "mixed": [1e-5, 0.5, True], "layers": [{"type": "Dense", "units": 3}], "t": {"kernel_size": [3, 3]}}
    text = dumps_toml(data)
    assert loads_toml(text) == data
    assert "input_shape = [28, 28, 1]\n" in text and "mixed = [1e-05, 0.5, true]\n" in text
    assert "kernel_size = [3, 3]\n" in text
    assert "long = [\n    0,\n" in text  # past 100 characters a line: as tomli_w writes it
    assert 'strings = [\n    "a, b",\n' in text  # a bracket inside a string: left as written, never misread


def test_a_setting_inside_a_flag_s_value_is_refused_not_lost():
    """New-user finding (helper-112): `--optimizer rmsprop --set train.optimizer.centered=true`
    trained without `centered` (the flag replaced the table the setting made), typos too; without
    the flag it was refused, with a hint naming a key that does not exist (train.beta1)."""
    with pytest.raises(SpecError, match=re.escape("--set train.optimizer.centered goes inside --optimizer's value, a name, "
                                                  "not a table: write its settings as train keys (--set train.centered=true)")):
        build_run_config(settings=["train.optimizer.centered=true"], flags={"optimizer": "rmsprop"})
    with pytest.raises(SpecError, match=re.escape("(--set train.beta_1=0.8)")):
        build_run_config(settings=["train.optimizer.beta1=0.8"], flags={"optimizer": "adam"})
    with pytest.raises(SpecError, match=re.escape('optimizer = "adam", and its settings as train keys (train.beta_1 = 0.8)')):
        build_run_config(settings=["train.optimizer.beta1=0.8"])
    with pytest.raises(SpecError, match=re.escape("--set dataset.test goes inside --dataset's value, which the flag sets "
                                                  "whole: give one of them")):
        build_run_config(settings=["dataset.test=t.csv"], flags={"dataset": {"csv": "x.csv"}})
    assert build_run_config(settings=["train.centered=true"], flags={"optimizer": "rmsprop"}).train.centered is True


def test_a_table_given_a_value_says_to_write_a_table_not_pydantics_class() -> None:
    """helper-132: `"train" = { choice = [1, 2] }` (a trial's train = 1) said "must be a valid
    dictionary or instance of TrainConfig", a class the user never wrote."""
    for key, value in (("train", 1), ("evaluate", 3), ("data", "x")):
        with pytest.raises(SpecError, match=rf"{key}: must be a table of settings \(\[{key}\] or {key} = {{ ... }}\)") as e:
            parse_run_config({"dataset": "mnist", "model": "seed000-dense", key: value})
        assert "Config" not in str(e.value)


@pytest.mark.parametrize("train, callbacks, fragment", [
    ({"schedule": {"type": "cosine", "min_lr": 0.5}}, [],
     r"train.schedule: min_lr \(0.5\) is above train.lr \(0.001\): the cosine decays"),
    ({"lr": 0.01, "schedule": {"type": "cosine", "min_lr": 0.02}}, [],
     r"train.schedule: min_lr \(0.02\) is above train.lr \(0.01\)"),
    ({"epochs": 2, "schedule": {"type": "cosine", "warmup_epochs": 50}}, [],
     r"train.schedule: warmup_epochs \(50\) is as long as the run or longer \(2 epochs\)"),
    ({"epochs": 2, "schedule": {"type": "cosine", "warmup_epochs": 2}}, [], r"warmup_epochs \(2\) is as long as the run"),
])
def test_a_schedule_that_cannot_be_meant_is_refused_before_training(train: dict, callbacks: list, fragment: str) -> None:
    """helper-143: a cosine min_lr above the lr rose to it, a warm-up longer than the run never
    reached the lr; both trained silently."""
    with pytest.raises(SpecError, match=fragment) as info:
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train, "callbacks": callbacks})
    assert "\n" not in str(info.value)


def test_a_schedule_within_its_run_is_taken() -> None:
    for train in ({"schedule": {"type": "cosine", "min_lr": 0.001}}, {"epochs": 3, "schedule": {"type": "cosine",
                                                                                                "warmup_epochs": 2.5}},
                  {"optimizer": "sgd", "schedule": {"type": "cosine", "min_lr": 0.005}}):  # sgd's lr: 0.01
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": train})


def test_keras_words_mnistlab_lacks_or_spells_otherwise_say_so() -> None:
    """helper-143: `train.clipnorm` got a bare "unknown key"; `validation = "Test"` "must be a
    valid number", which hid that "test" is taken."""
    with pytest.raises(SpecError, match=r"^run.toml: train.clipnorm: Keras's optimizer argument; not offered here"):
        parse(train={"clipnorm": 1.0})
    with pytest.raises(SpecError, match=r"^run.toml: train.global_clipnorm: Keras's optimizer argument; not offered"):
        parse(train={"global_clipnorm": 1.0})
    assert parse(data={"validation": "Test"}).data.validation == "test"
    assert parse(data={"validation": "test"}).resolved() == parse(data={"validation": " TEST "}).resolved()
    with pytest.raises(SpecError, match=r'validation: must be a fraction in \(0, 1\), a count, 0 or "test" \(got the '
                                        r"string 'tset'\)$"):
        parse(data={"validation": "tset"})
    with pytest.raises(SpecError, match=r"\(got the string '0.1': a number is written without quotes\)$"):
        parse(data={"validation": "0.1"})


@pytest.mark.parametrize("optimizer, lr, min_lr, warns", [("adam", None, 0.1, True), ("adam", None, 0.001, True),
                                                          ("adam", None, 0.0009, False), ("sgd", 0.5, 0.1, False),
                                                          ("sgd", None, 0.01, True)])
def test_a_reduce_lr_on_plateau_that_can_never_act_is_said(optimizer: str, lr: float | None, min_lr: float,
                                                           warns: bool) -> None:
    """helper-161: a min_lr at or above the starting rate (Adam's default 0.001, SGD's 0.01) was
    accepted unsaid: ReduceLROnPlateau lowers a rate only while it is above min_lr."""
    import warnings

    train = {"optimizer": optimizer, **({"lr": lr} if lr is not None else {})}
    d = {"dataset": "mnist", "model": "seed000-dense", "train": train,
         "callbacks": [{"type": "ReduceLROnPlateau", "monitor": "loss", "min_lr": min_lr}]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_run_config(d)
    said = [str(w.message) for w in caught if issubclass(w.category, SpecWarning)]
    assert bool(said) == warns and all(f"min_lr = {min_lr:g} is not below the learning rate" in s for s in said), said


BASE_CFG = {"dataset": "mnist", "model": "seed000-dense"}


def test_keras_2_decay_and_a_mode_against_the_monitor_are_said(recwarn) -> None:
    """helper-248: Keras 2's optimizer `decay` got only a list of keys holding weight_decay (another
    thing); EarlyStopping(mode="min") on val_accuracy restored the worst epoch unsaid."""
    with pytest.raises(SpecError, match=r'train: unknown key "decay" \(Keras 2\'s decay lowered the rate every step, lr / '
                                        r'\(1 \+ decay \* step\): a schedule does that here'):
        parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"decay": 1e-6}})
    with pytest.warns(SpecWarning, match=r'callbacks\[0\]: mode = "min" on val_accuracy counts the lowest accuracy as '
                                         r'the best, as Keras\'s would: leave mode out \("auto"\) or give "max"'):
        parse_run_config({**BASE_CFG, "data": {"validation": 0.1},
                          "callbacks": [{"type": "EarlyStopping", "monitor": "val_accuracy", "mode": "min"}]})
    with pytest.warns(SpecWarning, match='mode = "max" on val_loss counts the highest loss as the best'):
        parse_run_config({**BASE_CFG, "data": {"validation": 0.1}, "callbacks": [{"type": "ReduceLROnPlateau", "mode": "max"}]})
    recwarn.clear()
    parse_run_config({**BASE_CFG, "data": {"validation": 0.1},
                      "callbacks": [{"type": "EarlyStopping", "monitor": "val_accuracy", "mode": "max"}]})
    assert not [w for w in recwarn if issubclass(w.category, SpecWarning)]


@pytest.mark.parametrize(("config", "key"), [
    ({"dataset": "mnist", "model": "seed000-dense"}, "14f2d3cea9e2011f"),
    ({"dataset": "fashion-mnist", "model": "seed000-cnn", "train": {"optimizer": "sgd", "lr": 0.01,
      "schedule": {"type": "step"}}, "callbacks": [{"type": "EarlyStopping", "monitor": "val_loss"}],
      "data": {"validation": 0.1}, "augment": {"rotation_range": 10}}, "8f4619277c50894c"),
    ({"dataset": "mnist", "model": {"input_shape": [28, 28, 1], "layers": [
        "Flatten", {"type": "Dense", "units": 8}, {"type": "LeakyReLU", "negative_slope": 0.2},
        {"type": "Dense", "units": 10, "activation": "softmax"}]}}, "7c5fe42019e4eca2"),
])
def test_a_setting_added_later_leaves_the_run_keys_of_before_as_they_were(config: dict, key: str) -> None:
    """helper-249: train.class_weight's default None was hashed into every config's key, so every
    finished run of every store would have trained again. Keys as the code before it computed them
    (966ca2e), at a fixed version; a new setting at its default must not move them."""
    from mnistlab.config import run_key

    assert run_key(parse_run_config(config).resolved(), version="pin") == key
