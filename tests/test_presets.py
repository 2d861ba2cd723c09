"""Presets: every seed model builds, runs and has Keras's parameter count; resolve_model. (The `models` and
`summary` commands: test_cli_models.py.)"""

from __future__ import annotations

import warnings

import pytest
import torch

from mnistlab.errors import SpecError, SpecWarning
from mnistlab.models import build_model, count_parameters
from mnistlab.summary import summarize
from mnistlab.presets import get_preset, list_presets, preset_names, resolve_model, seed001_builder
from mnistlab.specs import Dense, Flatten, ModelSpec, compact_spec, save_model_spec

torch.set_num_threads(1)

# Names other modules and recipes rely on (CONTRACTS.md).
CONTRACT_NAMES = ["seed000-dense", "seed000-cnn", "seed000-ex1", "seed000-ex2", "seed000-ex3a", "seed000-ex3b",
                  "seed000-ex4a", "seed000-ex4b", "seed000-last", "seed001-dense", "seed001-builder",
                  "seed002-simple-conv", "seed002-dense", "seed002-deep-conv", "seed003-dense", "seed004-dense",
                  "seed004-glorot-normal", "seed004-dropout"]

# What Keras printed in the notebooks (SEEDS.md) for these stacks: the reference the summary must reproduce.
KERAS_PRINTED = {"seed000-dense": 101_770, "seed000-cnn": 243_786, "seed000-ex1": 55_098, "seed000-ex2": 347_690,
                 "seed000-ex3a": 43_578, "seed000-ex4a": 693_962, "seed001-builder": 113_386,
                 "seed002-simple-conv": 128_924, "seed002-dense": 535_818, "seed004-dense": 101_770}


def test_contract_names_are_registered():
    assert set(CONTRACT_NAMES) <= set(preset_names())


@pytest.mark.parametrize("name, count", KERAS_PRINTED.items())
def test_counts_printed_by_keras_in_the_notebooks(name, count):
    assert summarize(get_preset(name).spec).total == count


def test_counts_the_notebooks_describe_in_words():
    assert summarize(get_preset("seed000-ex4b").spec).total > 1_000_000            # "over 1 million"
    assert abs(summarize(get_preset("seed000-last").spec).total - 500_000) < 10_000  # "about half a million"


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.name)
def test_every_preset_builds_runs_and_matches_its_count(preset):
    assert preset.spec.name == preset.name and preset.source.startswith("seed ") and preset.description
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)  # seed003's sigmoid, seed004's zeros: warned on purpose
        model = build_model(preset.spec, seed=0).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10) and bool(torch.isfinite(out).all())
    summary = summarize(preset.spec)
    assert summary.total == preset.expected_params == sum(count_parameters(model))
    assert summary.flops > 0


@pytest.mark.parametrize("filters, extra", [(32, 1), (16, 1), (64, 1), (32, 0), (8, 2)])
def test_seed001_builder_arguments(filters, extra):
    spec = seed001_builder(filters=filters, additional_convolutions=extra)
    side = 13
    convs = 9 * filters + filters
    for _ in range(extra):
        convs += 9 * filters * filters + filters
        side = (side - 2) // 2
    expected = convs + (side * side * filters * 128 + 128) + 1290
    assert summarize(spec).total == expected


def test_compact_forms_reproduce_presets():
    cnn = get_preset("seed000-cnn").spec
    assert resolve_model({"conv": [64, 64], "pool": [True, True], "dense": [128]}).layers == cnn.layers
    builder = resolve_model({"filters": 32, "additional_convolutions": 1})
    assert builder.layers == get_preset("seed001-builder").spec.layers


def test_resolve_model_accepts_every_form(tmp_path):
    spec = compact_spec([4], [True], [8], name="mine")
    for suffix in (".toml", ".json"):
        save_model_spec(spec, tmp_path / f"m{suffix}")
        assert resolve_model(tmp_path / f"m{suffix}") == spec
        assert resolve_model(str(tmp_path / f"m{suffix}")) == spec
    assert resolve_model(spec) is spec
    assert resolve_model(spec.to_dict()) == spec
    assert resolve_model([{"type": "Flatten"}, {"type": "Dense", "units": 10}]) == ModelSpec(
        layers=(Flatten(), Dense(10)))
    assert resolve_model("seed000-cnn") == get_preset("seed000-cnn").spec


@pytest.mark.parametrize("bad, fragment", [
    ("seed000-cnnn", 'did you mean "seed000-cnn"'),
    ("resnet50", "unknown model"),
    ("", "unknown model"),
    ("no/such/file.toml", "no such file"),
    (42, "model must be a preset name"),
    (None, "model must be a preset name"),
])
def test_resolve_model_errors(bad, fragment):
    with pytest.raises(SpecError) as info:
        resolve_model(bad)
    assert fragment in str(info.value) and "\n" not in str(info.value)
