"""Model specs: round trips for every layer type, the compact forms, and one-line errors for bad specs."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from mnistlab.cli import main as cli_main
from mnistlab.errors import SpecError, SpecWarning, toml_repr
from mnistlab.specs import (
    ACTIVATIONS, INITIALIZERS, LAYER_TYPES, Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense,
    DepthwiseConv2D, Dropout, Flatten, GaussianDropout, GaussianNoise, GlobalAveragePooling2D, LayerSpec, MaxPooling2D,
    ModelSpec, Normalization, SeparableConv2D, SpatialDropout2D, ZeroPadding2D, builder_spec, compact_spec, layer_from_dict,
    load_model_spec, parse_model_spec, save_model_spec, spec_warnings,
)

# One non-default example per layer type, placed where it is legal (map layers before Flatten).
EXAMPLES: dict[str, LayerSpec] = {
    "Conv2D": Conv2D(8, (3, 5), strides=(2, 1), padding="same", activation="elu", kernel_initializer="he_normal",
                     use_bias=False),
    "MaxPooling2D": MaxPooling2D((3, 3), strides=(2, 2), padding="same"),
    "AveragePooling2D": AveragePooling2D((2, 2), padding="valid"),
    "BatchNormalization": BatchNormalization(momentum=0.9, epsilon=1e-5),
    "Activation": Activation("gelu"),
    "Dropout": Dropout(0.25),
    "GlobalAveragePooling2D": GlobalAveragePooling2D(),
    "Flatten": Flatten(),
    "Dense": Dense(7, activation="tanh", kernel_initializer="orthogonal", use_bias=False),
    "Normalization": Normalization(mean=[0.25], variance=[0.5]),
    "ZeroPadding2D": ZeroPadding2D(((1, 0), (2, 3))),
    "DepthwiseConv2D": DepthwiseConv2D((3, 5), strides=(2, 1), padding="same", depth_multiplier=3, activation="relu",
                                       depthwise_initializer="he_uniform", use_bias=False, depthwise_regularizer="l2"),
    "SeparableConv2D": SeparableConv2D(6, 3, strides=2, depth_multiplier=2, activation="tanh",
                                       pointwise_initializer="orthogonal", pointwise_regularizer={"l1": 1e-4},
                                       bias_regularizer="l2"),
    "SpatialDropout2D": SpatialDropout2D(0.3),
    "GaussianNoise": GaussianNoise(0.2),
    "GaussianDropout": GaussianDropout(0.4),
}


def _spec_with(layer: LayerSpec) -> ModelSpec:
    """A small legal model containing `layer`."""
    head = (Flatten(), Dense(10, activation="softmax"))
    if layer.wants_map or isinstance(layer, (BatchNormalization, Activation, Dropout)):
        if isinstance(layer, GlobalAveragePooling2D):
            return ModelSpec(layers=(Conv2D(4, 3), layer, Dense(10, activation="softmax")), name="gap")
        return ModelSpec(layers=(Conv2D(4, 3), layer, *head), input_shape=(12, 12, 1))
    if isinstance(layer, Flatten):
        return ModelSpec(layers=head)
    return ModelSpec(layers=(Flatten(), layer, Dense(3)), input_shape=(5, 5, 2), name="dense")


def test_examples_cover_the_layer_registry():
    assert set(EXAMPLES) == set(LAYER_TYPES)
    for name, layer in EXAMPLES.items():
        assert type(layer) is LAYER_TYPES[name]


@pytest.mark.parametrize("type_name", list(LAYER_TYPES))
def test_round_trip_dict_json_toml(type_name, tmp_path):
    spec = _spec_with(EXAMPLES[type_name])
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert parse_model_spec(json.loads(json.dumps(spec.to_dict()))) == spec
    for suffix in (".toml", ".json"):
        path = tmp_path / f"model{suffix}"
        save_model_spec(spec, path)
        loaded = load_model_spec(path)
        assert loaded == spec
        assert loaded.to_dict() == spec.to_dict()
    assert hash(spec) == hash(load_model_spec(tmp_path / "model.toml"))


def test_to_dict_is_plain_data_with_every_field():
    d = _spec_with(EXAMPLES["Conv2D"]).to_dict()
    conv = d["layers"][0]
    assert conv == {"type": "Conv2D", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
                    "activation": "linear", "kernel_initializer": "glorot_uniform", "use_bias": True}
    assert d["input_shape"] == [12, 12, 1]


def test_toml_written_by_hand(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('input_shape = [28, 28]\n[[layers]]\ntype = "Conv2D"\nfilters = 8\nkernel_size = 3\n'
                    'activation = "ReLU"\n[[layers]]\ntype = "MaxPool2D"\n[[layers]]\ntype = "Flatten"\n'
                    '[[layers]]\ntype = "dense"\nunits = 10\nactivation = "softmax"\n')
    spec = load_model_spec(path)
    assert spec.input_shape == (28, 28, 1)
    assert spec.layers[0] == Conv2D(8, (3, 3), activation="relu")
    assert type(spec.layers[1]) is MaxPooling2D and spec.layers[1].pool_size == (2, 2)
    assert spec.shapes() == [(26, 26, 8), (13, 13, 8), (1352,), (10,)]


def test_bare_layer_list_and_bare_names():
    spec = parse_model_spec(["Flatten", {"type": "Dense", "units": 10}])
    assert spec.layers == (Flatten(), Dense(10)) and spec.input_shape == (28, 28, 1)


def test_compact_form_matches_the_explicit_stack():
    compact = parse_model_spec({"conv": [64, 64], "pool": [True, True], "dense": [128]})
    explicit = ModelSpec(layers=(Conv2D(64, 3, activation="relu"), MaxPooling2D(), Conv2D(64, 3, activation="relu"),
                                 MaxPooling2D(), Flatten(), Dense(128, activation="relu"),
                                 Dense(10, activation="softmax")))
    assert compact == explicit
    # pool defaults to pooling after every conv; options reach every layer
    opts = parse_model_spec({"conv": [8], "dense": [16, 12], "kernel_size": 5, "activation": "tanh", "dropout": 0.5,
                             "padding": "same", "outputs": 4, "output_activation": "linear"})
    assert opts.layers[0] == Conv2D(8, 5, padding="same", activation="tanh")
    assert [type(x).__name__ for x in opts.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout",
                                                      "Dense", "Dropout", "Dense"]
    assert opts.num_classes == 4
    assert parse_model_spec({"dense": [128]}) == ModelSpec(layers=(Flatten(), Dense(128, activation="relu"),
                                                                   Dense(10, activation="softmax")))


def test_compact_form_warns_about_seed000_output_habit():
    with pytest.warns(SpecWarning, match="HIDDEN widths only"):
        spec = parse_model_spec({"conv": [8], "dense": [128, 10]})
    assert [getattr(x, "units", None) for x in spec.layers][-2:] == [10, 10]


def test_builder_form():
    spec = parse_model_spec({"filters": 16, "additional_convolutions": 2})
    assert [getattr(x, "filters", None) for x in spec.layers if isinstance(x, Conv2D)] == [16, 16, 16]
    assert spec == builder_spec(16, 2)
    assert parse_model_spec({"additional_convolutions": 0}) == compact_spec([32], [True], [128])


def test_keras_spellings_are_normalised():
    assert Dense(3, activation="ReLU").activation == "relu"
    assert Dense(3, activation="LeakyReLU").activation == "leaky_relu"
    assert Dense(3, kernel_initializer="Xavier_Uniform").kernel_initializer == "glorot_uniform"
    assert Conv2D(3, 3, padding="Same").padding == "same"
    assert set(ACTIVATIONS) >= {"linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh",
                                "softmax", "swish"}
    assert len(INITIALIZERS) == 10


def test_shapes_follow_keras():
    spec = ModelSpec(layers=(Conv2D(4, 3, strides=2, padding="same"), MaxPooling2D(3, strides=2, padding="same"),
                             AveragePooling2D(2), GlobalAveragePooling2D(), Dense(10)))
    assert spec.shapes() == [(14, 14, 4), (7, 7, 4), (3, 3, 4), (4,), (10,)]
    assert spec.num_classes == 10


# ----- impossible specs: one line, the layer named, the fix or a suggestion ---------------------------------
def _layers(*layers):
    return {"layers": list(layers)}


FLAT = {"type": "Flatten"}
OUT = {"type": "Dense", "units": 10}
BAD_SPECS = [
    # (spec, fragments the message must contain)
    (_layers({"type": "Conv2D", "filters": 8, "kernel_size": 3}, *[{"type": "MaxPooling2D"}] * 5, FLAT, OUT),
     ["layers[5] (MaxPooling2D)", "below 1x1"]),
    (_layers({"type": "Conv2D", "filters": 8, "kernel_size": 29}, FLAT, OUT), ["layers[0] (Conv2D)", "below 1x1"]),
    (_layers(FLAT, {"type": "Conv2D", "filters": 8, "kernel_size": 3}, OUT), ["layers[1] (Conv2D)", "Flatten"]),
    (_layers(FLAT, {"type": "MaxPooling2D"}, OUT), ["layers[1] (MaxPooling2D)", "Flatten"]),
    (_layers(FLAT, {"type": "Dense", "units": 0}), ["layers[1] (Dense)", "units", "at least 1"]),
    (_layers({"type": "Conv2D", "filters": -3, "kernel_size": 3}), ["layers[0] (Conv2D)", "filters"]),
    (_layers({"type": "Conv2D", "filters": 3, "kernel_size": [0, 3]}), ["layers[0] (Conv2D)", "kernel_size"]),
    (_layers(FLAT, {"type": "Dropout", "rate": 1.01}, OUT), ["layers[1] (Dropout)", "rate", "[0, 1]"]),
    (_layers(FLAT, {"type": "Dropout", "rate": -0.1}, OUT), ["layers[1] (Dropout)", "rate"]),
    (_layers(FLAT, {"type": "Dropout", "rate": float("nan")}, OUT), ["layers[1] (Dropout)", "rate"]),
    (_layers(FLAT, {"type": "Dense2", "units": 10}), ["layers[1]", 'did you mean "Dense"']),
    (_layers(FLAT, {"type": "Dense", "units": 10, "activation": "reul"}), ["layers[1] (Dense)", '"relu"']),
    (_layers(FLAT, {"type": "Dense", "units": 10, "kernel_initializer": "he_normall"}), ['"he_normal"']),
    (_layers(FLAT, {"type": "Dense", "unit": 10}), ["layers[1] (Dense)", "unknown key 'unit'", '"units"']),
    (_layers(FLAT, {"type": "Dense", "units": "128"}), ["layers[1] (Dense)", "units must be an integer"]),
    (_layers(FLAT, {"type": "Dense", "units": 1.5}), ["units must be an integer"]),
    (_layers(FLAT, {"type": "Dense", "units": True}), ["units must be an integer"]),
    (_layers(FLAT, {"type": "Dense", "units": 10, "use_bias": "yes"}), ["use_bias must be true or false"]),
    (_layers({"type": "Conv2D", "filters": 3, "kernel_size": [3, 3, 3]}), ["kernel_size", "pair"]),
    (_layers({"type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "full"}), ['unknown padding "full"']),
    (_layers(FLAT, {"type": "Dense"}), ["layers[1] (Dense)", "missing 'units'"]),
    (_layers(FLAT, {"units": 10}), ["layers[1]", "missing 'type'"]),
    (_layers(FLAT, 42), ["layers[1]", "must be a table"]),
    (_layers(FLAT, {"type": 7}), ["'type' must be a string"]),
    (_layers({"type": "Dense", "units": 10}), ["layers[0] (Dense)", "add a Flatten"]),
    (_layers({"type": "Conv2D", "filters": 3, "kernel_size": 3}), ["ends with a 26x26x3 feature map"]),
    (_layers(), ["at least one layer"]),
    ({"layers": "Dense"}, ["'layers' must be a list"]),
    ({"layers": [FLAT, OUT], "input_shap": [28, 28]}, ["unknown key 'input_shap'", '"input_shape"']),
    ({"layers": [FLAT, OUT], "input_shape": [28, -28]}, ["input_shape"]),
    ({"layers": [FLAT, OUT], "input_shape": "28x28"}, ["input_shape"]),
    ({"layers": [FLAT, OUT], "name": 5}, ["name must be a string"]),
    # huge numbers: refused at the boundary, before anything is allocated
    (_layers(FLAT, {"type": "Dense", "units": 10**30}), ["layers[1] (Dense)", "too large"]),
    (_layers(FLAT, {"type": "Dense", "units": 1_000_000}, {"type": "Dense", "units": 1_000_000}),
     ["parameters, more than the limit"]),
    ({"layers": [FLAT, OUT], "input_shape": [10**9, 10**9, 1]}, ["input_shape", "out of range"]),
    ({"layers": [FLAT] * 5000}, ["too many layers"]),
    # compact and builder forms
    ({"conv": [64, 64], "pool": [True], "dense": [128]}, ["'pool' has 1 flags but 'conv' has 2"]),
    ({"conv": [64, "64"], "dense": [128]}, ["conv[1]", "integer"]),
    ({"conv": [64], "dense": [0]}, ["dense[0]", "at least 1"]),
    ({"conv": [8] * 4, "dense": [128]}, ["layers[6] (Conv2D)", "below 1x1"]),
    ({"conv": [8] * 3, "pool": [False, False, False], "kernel_size": 11, "dense": [128]}, ["layers[2] (Conv2D)"]),
    ({"conv": [8], "dense": [128], "activaton": "relu"}, ["unknown key 'activaton'", '"activation"']),
    ({"conv": [8], "dense": [128], "activation": "rellu"}, ['"relu"']),
    ({"conv": 8, "dense": [128]}, ["'conv' must be a list"]),
    ({"filters": 32, "additional_convolutions": -1}, ["additional_convolutions"]),
    ({"filters": 32, "additional_convolutions": 4}, ["below 1x1"]),
    ({"filters": 32, "extra": 1}, ["unknown key 'extra'"]),
    ({"model": "x"}, ["expected 'layers'"]),
    ("Dense", ["must be a table or a list"]),
]


@pytest.mark.parametrize("bad, fragments", BAD_SPECS, ids=[str(i) for i in range(len(BAD_SPECS))])
def test_bad_specs_give_one_line_errors(bad, fragments):
    with pytest.raises(SpecError) as info:
        parse_model_spec(bad)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("bad, path", [
    (_layers(FLAT, {"type": "Dense", "unit": 10}), ("layers", 1, "unit")),
    (_layers(FLAT, {"type": "Dense", "units": 10, "activation": "reul"}), ("layers", 1, "activation")),
    (_layers({"type": "Conv2D", "filters": 3, "kernel_size": [0, 3]}), ("layers", 0, "kernel_size")),
    (_layers(FLAT, {"type": "Dense2", "units": 10}), ("layers", 1, "type")),
    (_layers({"type": "Dense", "units": 10}), ("layers", 0)),  # a shape problem: the layer
    ({"layers": [FLAT, OUT], "input_shap": [28, 28]}, ("input_shap",)),
    ({"layers": [FLAT, OUT], "input_shape": [28, -28]}, ("input_shape",)),
    ({"conv": [64, "64"], "dense": [128]}, ("conv", 1)),
    ({"conv": [8], "dense": [128], "activation": "rellu"}, ("activation",)),
    ({"conv": [8], "dense": [128], "output_activation": "rellu"}, ("output_activation",)),
    ({"conv": [8], "dense": [128], "dropout": 2.0}, ("dropout",)),
    ({"conv": [8], "dense": [128], "activaton": "relu"}, ("activaton",)),
    ({"filters": 0}, ("filters",)),
    ({"filters": 32, "additional_convolutions": -1}, ("additional_convolutions",)),
])
def test_spec_errors_carry_the_key_path(bad, path):
    with pytest.raises(SpecError) as info:
        parse_model_spec(bad)
    assert info.value.path == path, str(info.value)


def test_spec_file_errors_name_their_file_as_source(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_layers(FLAT, {"type": "Dense", "units": 0})))
    with pytest.raises(SpecError) as info:
        load_model_spec(path)
    assert (info.value.source, info.value.path) == (str(path), ("layers", 1, "units"))


INLINE_MODEL = """\
# a model written inline, one layer a line
layers = [  # a comment with ] and }
  { type = "Conv2D", filters = 8, kernel_size = 3, activation = "relu" },
  { type = "MaxPooling2D" },  # a quote " and ] in a comment
  { type = "Flatten" },   # 5
  { type = "Dense", units = 10, activation = "softmaxx" },
]
"""
TABLE_MODEL = """\
name = "mine"
[[layers]]
type = "Conv2D"
filters = 8
kernel_size = 3
[[layers]]
type = "Flatten"
[[layers]]
type = "Dense"
units = 0       # 10
activation = "softmax"
"""


@pytest.mark.parametrize(("text", "change", "line", "says"), [
    (TABLE_MODEL, None, 10, "layers[2] (Dense): units"),
    (INLINE_MODEL, None, 6, 'unknown activation "softmaxx"'),
    (INLINE_MODEL, ('"MaxPooling2D" }', '"MaxPooling2D", size = "2,]}#" }'), 4, "size"),
    (INLINE_MODEL, ('{ type = "Flatten" }', '{ type = "Flaten" }'), 5,
     "Flaten"),
])
def test_a_model_files_errors_give_the_line_to_fix(tmp_path, text, change, line, says):
    """New-user finding (34): a model file's errors named no line, where an experiment file's do. A
    layer written inline, one a line, is found in its array."""
    if change:
        text = text.replace(*change)
    (tmp_path / "m.toml").write_text(text)
    with pytest.raises(SpecError, match=rf"^{re.escape(str(tmp_path / 'm.toml'))}:{line}: .*{re.escape(says)}"):
        load_model_spec(tmp_path / "m.toml")


def test_a_json_model_files_errors_give_the_line_to_fix_too(tmp_path):
    """New-user finding (35): the same mistake named line 19 of a TOML spec and no line of a JSON one."""
    (tmp_path / "m.json").write_text('{\n  "name": "a # b, ] }",\n  "layers": [\n    {"type": "Conv2D", "filters": 8, '
                                     '"kernel_size": 3},\n    {"type": "Flatten"},\n    {"type": "Dense",\n     '
                                     '"units": 10,\n     "use_bias": "yes"}\n  ]\n}\n')
    with pytest.raises(SpecError, match=r"m.json:8: layers\[2\] \(Dense\): use_bias must be true or false"):
        load_model_spec(tmp_path / "m.json")
    (tmp_path / "m.json").write_text('{"layers": [{"type": "Flaten"}]}')  # one line: line 1
    with pytest.raises(SpecError, match=r"m.json:1: layers\[0\]"):
        load_model_spec(tmp_path / "m.json")


def test_python_construction_validates_too():
    with pytest.raises(SpecError, match="units"):
        Dense(0)
    with pytest.raises(SpecError, match=r"layers\[1\] \(Conv2D\)"):
        ModelSpec(layers=(Flatten(), Conv2D(3, 3), Dense(10)))
    with pytest.raises(SpecError, match="must be a layer spec"):
        ModelSpec(layers=(Flatten(), {"type": "Dense", "units": 10}))  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Dense(10).units = 5  # frozen


# ----- files: wrong, truncated and hostile ------------------------------------------------------------------
@pytest.mark.parametrize("name, content, fragment", [
    ("m.toml", '[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits = ', "invalid TOML"),
    ("m.toml", "", "expected 'layers'"),
    ("m.toml", '[model]\nlayers = ["Flatten"]\n', "a model spec file writes the model's keys at its top (layers = "
                                                "[...]), not in a [model] table"),  # the [model] of a run's config
    ("run.toml", 'dataset = "mnist"\n[model]\nlayers = ["Flatten"]\n', "model spec has 'dataset', 'model': a run's "
                                                                        "config (train --config reads it)"),
    ("m.toml", b"\x00\xff\xfe garbage \x89PNG", "not a text file"),
    ("m.toml", 'layers = [\u201cFlatten\u201d]\n'.encode(),
     '(its \u201c (U+201C) is typeset, as a word processor or mail writes it: write ")'),  # (helper-177: "Invalid value")
    ("m.toml", '# \u201cok\u201d\nlayers\u00a0= ["Flatten"]\n'.encode(), "(its no-break space (U+00A0) is typeset, as a word "
                                                             "processor or mail writes it: write a space)"),
    ("m.toml", '# de Zo\xe9 \u2013 \xb5\r\nlayers = ["Flatten"]\r\n'.encode("cp1252"),  # Notepad's "ANSI" (helper-177)
     "m.toml: line 1 is not UTF-8 (Windows-1252 or Latin-1 text?): save it as UTF-8"),
    ("m.json", '{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 1', "invalid JSON"),
    ("m.json", '{"layers": [{"type": "Dense", "name": "a\n', "Invalid control character at line 1 column 41 (the "
                                                            "file ends there: cut short?)"),  # one "at", and why
    ("m.json", "[" * 100_000, "invalid JSON"),
    ("m.toml", "layers = " + "[" * 100_000, "invalid TOML"),
    ("m.json", '{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": ' + "9" * 5000 + "}]}", "invalid JSON"),
    ("m.json", '{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 1e400}]}', "units must be an integer"),
    ("m.json", "null", "must be a table"),
    ("m.json", '"seed000-cnn"', "must be a table"),
    ("m.yaml", "layers: []", "must end in .toml or .json"),
])
def test_bad_files(tmp_path, name, content, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SpecError) as info:
        load_model_spec(path)
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_missing_folder_and_oversized_files(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_model_spec(tmp_path / "absent.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(SpecError, match="is a folder"):
        load_model_spec(tmp_path / "dir.toml")
    big = tmp_path / "big.json"
    big.write_text(" " * (5 << 20))
    with pytest.raises(SpecError, match="too large"):
        load_model_spec(big)
    with pytest.raises(SpecError, match="cannot write"):
        save_model_spec(ModelSpec(layers=(Flatten(), Dense(10))), tmp_path / "no" / "such" / "dir.toml")


# ----- warnings for incoherent specs ---------------------------------------------------------------------------
def test_clean_spec_has_no_warnings():
    assert spec_warnings(compact_spec([8], [True], [16])) == []


def test_sigmoid_output_warns_with_the_fix():
    spec = ModelSpec(layers=(Flatten(), Dense(64, activation="relu"), Dense(10, activation="sigmoid")))
    (message,) = spec_warnings(spec)
    assert "layers[2] (Dense)" in message and "sigmoid" in message and "softmax" in message


@pytest.mark.parametrize("layers, fragment", [
    ((Flatten(), Dense(10, activation="softmax"), Dense(10, activation="softmax")), "hidden layer"),
    ((Flatten(), Dense(8, kernel_initializer="zeros"), Dense(10)), "layers[1] (Dense): kernel_initializer 'zeros' gives "
                                                                  "every unit the same weights"),
    ((Flatten(), Dense(10), Dropout(0.5)), "after the output"),
    ((Flatten(), Dense(10), Activation("relu")), "output activation 'relu'"),
    ((Flatten(), Dense(1)), "one output per class"),
])
def test_other_incoherent_specs_warn(layers, fragment):
    messages = spec_warnings(ModelSpec(layers=layers))
    assert any(fragment in m for m in messages), messages


def test_an_output_layer_of_zeros_is_no_mistake():
    """helper-151: a logistic regression (one Dense softmax) of zeros was told its units "all learn the
    same thing": each output unit learns its own class's target, whatever its start."""
    assert spec_warnings(ModelSpec(layers=(Flatten(), Dense(10, activation="softmax", kernel_initializer="zeros")))) == []
    assert spec_warnings(ModelSpec(layers=(Flatten(), Dense(10, kernel_initializer="zeros"), Activation("softmax")))) == []


# ---------------------------------------------------------------------------------- Normalization
def test_normalization_to_adapt_round_trips_and_counts_keras_weights(tmp_path):
    spec = ModelSpec(layers=(Normalization(), Conv2D(8, 3), Flatten(), Dense(10, activation="softmax")))
    assert spec.layers[0].needs_adapt and spec.to_dict()["layers"][0] == {"type": "Normalization", "mean": None,
                                                                          "variance": None}
    save_model_spec(spec, tmp_path / "m.toml")  # TOML has no null: the keys are left out, and read back as None
    assert load_model_spec(tmp_path / "m.toml") == spec == parse_model_spec(["Normalization", *spec.to_dict()["layers"][1:]])
    # Keras: an adapted Normalization holds mean (1,), variance (1,) and count () as non-trainable weights ...
    assert spec.layers[0].params((28, 28, 1)) == (0, 3)
    # ... one per channel (axis=-1) for mean and variance; a layer given its values holds constants only.
    assert spec.layers[0].params((26, 26, 8)) == (0, 17)
    assert Normalization(mean=0.1, variance=0.2).params((28, 28, 1)) == (0, 0)
    assert Normalization(mean=0, variance=1) == Normalization(mean=0.0, variance=1.0)  # canonical floats


def test_an_adapted_normalization_says_so_and_only_then():
    adapted = Normalization(mean=0.13, variance=0.09, adapted=True)
    assert adapted.to_dict() == {"type": "Normalization", "mean": 0.13, "variance": 0.09, "adapted": True}
    assert layer_from_dict(adapted.to_dict()) == adapted  # a record's model reads back as it was
    assert "adapted" not in Normalization(mean=0.13, variance=0.09).to_dict()  # as written: keys unchanged
    with pytest.raises(SpecError, match="adapted = true needs the mean and variance"):
        Normalization(adapted=True)
    with pytest.raises(SpecError, match="adapted must be true or false, got string \"yes\""):
        layer_from_dict({"type": "Normalization", "mean": 0, "variance": 1, "adapted": "yes"})


def test_normalization_values_per_channel_anywhere():
    spec = ModelSpec(layers=(Conv2D(3, 3), Normalization(mean=[0, 1, 2], variance=[1, 1, 0]), Flatten(), Dense(2)))
    assert spec.layers[1].mean == (0.0, 1.0, 2.0) and spec.shapes()[1] == (26, 26, 3)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("kwargs, needle, path", [
    ({"mean": 0.1}, "mean is given but variance is not", ("variance",)),
    ({"variance": 0.1}, "variance is given but mean is not", ("mean",)),
    ({"mean": "0.1", "variance": 1}, "mean must be a number, got string", ("mean",)),
    ({"mean": True, "variance": 1}, "mean must be a number, got boolean", ("mean",)),
    ({"mean": {"a": 1}, "variance": 1}, "mean must be a number, got table", ("mean",)),
    ({"mean": 0, "variance": -1}, "variance must be a finite number >= 0, got -1", ("variance",)),
    ({"mean": float("nan"), "variance": 1}, "mean must be a finite number, got nan", ("mean",)),
    ({"mean": 0, "variance": float("inf")}, "variance must be a finite number >= 0, got inf", ("variance",)),
    ({"mean": 10**400, "variance": 1}, "mean must be a finite number", ("mean",)),
    ({"mean": [], "variance": []}, "mean must be a number or a list of 1 to", ("mean",)),
    ({"mean": [0, [1]], "variance": [1, 1]}, "mean[1] must be a number, got array", ("mean", 1)),
    ({"mean": [0, 1], "variance": [1, None]}, "variance[1] must be a number, got null", ("variance", 1)),
    ({"mean": [0, 1], "variance": 1}, "same shape (Keras), got 2 values and one number", ("variance",)),
    ({"mean": [0, 1], "variance": [1, 1, 1]}, "got 2 values and 3 values", ("variance",)),
])
def test_bad_normalization_values_are_one_line_errors(kwargs, needle, path):
    with pytest.raises(SpecError) as info:
        layer_from_dict({"type": "Normalization", **kwargs}, where="layers[0]", path=("layers", 0))
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert info.value.path == ("layers", 0, *path)


def test_normalization_shape_and_place_are_checked():
    with pytest.raises(SpecError, match=r"layers\[0\] \(Normalization\): mean and variance have 2 values but the "
                                        r"input has 1 channel \(give one value, or one per channel\)"):
        ModelSpec(layers=(Normalization(mean=[0, 1], variance=[1, 1]), Flatten(), Dense(2)))
    with pytest.raises(SpecError, match=r"layers\[1\] \(Normalization\): without mean and variance it must be "
                                        r"the first layer") as info:
        parse_model_spec([{"type": "Conv2D", "filters": 2, "kernel_size": 3}, "Normalization", "Flatten",
                          {"type": "Dense", "units": 2}])
    assert info.value.path == ("layers", 1)
    with pytest.raises(SpecError, match="unknown key 'axis'|'axis'"):
        parse_model_spec([{"type": "Normalization", "axis": -1}, "Flatten", {"type": "Dense", "units": 2}])


# ----- every layer's input requirement, against what Keras 3 accepts (recorded by bench/keras_layer_inputs.py) -----
KERAS_INPUTS = json.loads((Path(__file__).parent / "data" / "keras_layer_inputs.json").read_text())
# The layer under test, small enough for an 8x8 input (one per registered type).
PROBES: dict[str, LayerSpec] = {
    "Flatten": Flatten(), "Dense": Dense(3), "Conv2D": Conv2D(2, 1), "MaxPooling2D": MaxPooling2D(1),
    "AveragePooling2D": AveragePooling2D(1), "GlobalAveragePooling2D": GlobalAveragePooling2D(),
    "Dropout": Dropout(0.5), "BatchNormalization": BatchNormalization(), "Activation": Activation("relu"),
    "Normalization": Normalization(mean=0.0, variance=1.0),
    "ZeroPadding2D": ZeroPadding2D(1),
    "DepthwiseConv2D": DepthwiseConv2D(1), "SeparableConv2D": SeparableConv2D(2, 1), "SpatialDropout2D": SpatialDropout2D(0.5),
    "GaussianNoise": GaussianNoise(0.1), "GaussianDropout": GaussianDropout(0.5),
}
# What comes before it: a feature map, or each of the three ways to make a flat vector.
BEFORE: dict[str, tuple[LayerSpec, ...]] = {
    "map": (Conv2D(2, 3),),
    "Flatten": (Conv2D(2, 3), Flatten()),
    "Dense": (Flatten(), Dense(5)),
    "GlobalAveragePooling2D": (Conv2D(2, 3), GlobalAveragePooling2D()),
}
# Deliberate difference (README "Layers"): Keras applies Dense to the channel axis of a map; mnistlab
# refuses it, since in a classifier it is a forgotten Flatten.
DIFFERS_FROM_KERAS = {("Dense", "map")}


def probe_spec(layer: str, before: str) -> ModelSpec:
    """Input 8x8x1 -> BEFORE[before] -> PROBES[layer] -> a head that makes it a classifier."""
    layers = (*BEFORE[before], PROBES[layer])
    keeps_map = before == "map" and layer not in ("Flatten", "Dense", "GlobalAveragePooling2D")
    head = (Flatten(), Dense(3)) if keeps_map else (Dense(3),)
    return ModelSpec(layers=(*layers, *head), input_shape=(8, 8, 1))


def test_probes_cover_the_layer_registry_and_the_recording():
    assert set(PROBES) == set(LAYER_TYPES) == set(KERAS_INPUTS["inputs"])
    assert all(set(row) == set(BEFORE) for row in KERAS_INPUTS["inputs"].values())


@pytest.mark.parametrize("before", list(BEFORE))
@pytest.mark.parametrize("layer", list(LAYER_TYPES))
def test_every_layer_accepts_the_inputs_keras_accepts(layer, before):
    keras = KERAS_INPUTS["inputs"][layer][before]
    where = f"layers[{len(BEFORE[before])}] ({layer})"
    if keras["accepted"] and (layer, before) not in DIFFERS_FROM_KERAS:
        spec = probe_spec(layer, before)
        assert len(spec.shapes()[len(BEFORE[before])]) == keras["output_rank"]
        return
    with pytest.raises(SpecError) as info:
        probe_spec(layer, before)
    message = str(info.value)
    assert "\n" not in message and message.startswith(where), message
    assert info.value.path == ("layers", len(BEFORE[before]))
    assert ("feature map" if before != "map" else "Flatten") in message, message


def test_map_layers_are_exactly_those_keras_refuses_on_vectors():
    refused = {name for name, row in KERAS_INPUTS["inputs"].items() if not row["Flatten"]["accepted"]}
    assert refused == {name for name, cls in LAYER_TYPES.items() if cls.wants_map}


@pytest.mark.parametrize("layers, where", [
    ([FLAT, {"type": "GlobalAveragePooling2D"}, OUT], "layers[1] (GlobalAveragePooling2D)"),   # issue 14
    ([{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "GlobalAveragePooling2D"},
      {"type": "GlobalAveragePooling2D"}, OUT], "layers[2] (GlobalAveragePooling2D)"),
    ([FLAT, OUT, {"type": "GlobalAveragePooling2D"}], "layers[2] (GlobalAveragePooling2D)"),
    ([FLAT, {"type": "AveragePooling2D", "pool_size": 2}, OUT], "layers[1] (AveragePooling2D)"),
])
def test_global_pooling_of_a_vector_is_a_one_line_spec_error(layers, where, tmp_path, capsys):
    with pytest.raises(SpecError) as info:
        parse_model_spec(_layers(*layers))
    assert str(info.value).startswith(f"{where}: needs an (H, W, C) feature map but gets a flat vector")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_layers(*layers)))
    assert cli_main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and where in err and "Traceback" not in err, err


def test_average_pooling_needs_pool_size_as_in_keras3():
    recorded = KERAS_INPUTS["pool_size"]
    assert recorded["AveragePooling2D"]["required"] and not recorded["MaxPooling2D"]["required"]
    with pytest.raises(SpecError, match=r"^layers\[1\] \(AveragePooling2D\): missing 'pool_size' \(Keras 3 requires"):
        parse_model_spec(_layers({"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "AveragePooling2D"},
                                 FLAT, OUT))
    with pytest.raises(TypeError, match="pool_size"):
        AveragePooling2D()  # type: ignore[call-arg]
    assert MaxPooling2D().pool_size == tuple(recorded["MaxPooling2D"]["default"])
    assert parse_model_spec(_layers({"type": "MaxPooling2D"}, FLAT, OUT)).shapes()[0] == (14, 14, 1)


def test_activation_none_is_keras_s_linear():
    """New-user finding (helper-112): `"activation": null` in a JSON spec (Keras's activation=None,
    a linear layer) was refused as "must be a string"."""
    from mnistlab.presets import resolve_model

    spec = resolve_model({"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": None}]})
    assert spec.layers[-1].activation == "linear"
    assert spec == resolve_model({"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]})
    with pytest.raises(SpecError, match="activation must be a string, got integer 3"):
        resolve_model({"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": 3}]})


def test_a_model_over_the_parameter_limit_names_the_layer_that_holds_them() -> None:
    """helper-125: "model has 795,000,010 parameters, more than the limit" named no layer."""
    layers = [{"type": "Flatten"}, {"type": "Dense", "units": 1_000_000, "activation": "relu"},
              {"type": "Dense", "units": 10, "activation": "softmax"}]
    with pytest.raises(SpecError, match=r"^model has 795,000,010 parameters, more than the limit of 500,000,000: "
                                         r"layers\[1\] \(Dense\) holds 785,000,000 of them$") as info:
        parse_model_spec(layers)
    assert info.value.path == ("layers", 1)


def test_a_kernel_initializer_by_keras_s_class_name_or_one_mnistlab_does_not_build() -> None:
    """helper-125: "HeNormal" (keras.initializers.get takes it) was refused; "truncated_normal" was
    offered random_normal, another distribution."""
    dense = {"type": "Dense", "units": 10, "activation": "softmax"}
    for given, kept in (("HeNormal", "he_normal"), ("GlorotUniform", "glorot_uniform"), ("Zeros", "zeros")):
        spec = parse_model_spec([{"type": "Flatten"}, {**dense, "kernel_initializer": given}])
        assert spec.layers[1].kernel_initializer == kept
    with pytest.raises(SpecError, match='kernel_initializer "truncated_normal" is one of Keras\'s that mnistlab does '
                                        'not build; choose from glorot_uniform') as info:
        parse_model_spec([{"type": "Flatten"}, {**dense, "kernel_initializer": "truncated_normal"}])
    assert "did you mean" not in str(info.value)
    with pytest.raises(SpecError, match='did you mean "he_normal"'):
        parse_model_spec([{"type": "Flatten"}, {**dense, "kernel_initializer": "he_normall"}])


def test_keras_s_default_data_format_is_read_and_another_refused() -> None:
    """helper-125: data_format = "channels_last" (Keras's default, what a Keras user writes) was an unknown key."""
    conv = {"type": "Conv2D", "filters": 4, "kernel_size": 3}
    plain = parse_model_spec([conv, {"type": "MaxPooling2D"}, {"type": "Flatten"}, {"type": "Dense", "units": 10}])
    written = parse_model_spec([{**conv, "data_format": "channels_last"},
                                {"type": "MaxPooling2D", "data_format": "channels_last"},
                                {"type": "Flatten", "data_format": "channels_last"}, {"type": "Dense", "units": 10}])
    assert written == plain and written.to_dict() == plain.to_dict()  # the same layers, the same recorded config
    assert parse_model_spec([{**conv, "data_format": "Channels_Last"}, {"type": "Flatten"},  # Keras lowercases it
                             {"type": "Dense", "units": 10}]) == parse_model_spec([conv, {"type": "Flatten"},
                                                                                   {"type": "Dense", "units": 10}])
    with pytest.raises(SpecError, match=r'^layers\[0\] \(Conv2D\): data_format = string "channels_first": mnistlab'):
        parse_model_spec([{**conv, "data_format": "channels_first"}, {"type": "Flatten"}, {"type": "Dense", "units": 10}])
    with pytest.raises(SpecError, match="unknown key 'data_format'"):
        parse_model_spec([{"type": "Flatten"}, {"type": "Dense", "units": 10, "data_format": "channels_last"}])


def test_a_layers_name_is_its_name_in_the_summary_and_figures_but_not_in_the_run_key(tmp_path: Path) -> None:
    """Note 39's leftover: Keras's `Dense(16, name="hidden")` had no mnistlab words (a TOML `name =`
    was an unknown key). A named layer is not counted by Keras's auto-naming (keras/src/utils/naming.py
    counts the layers created without a name), so the next Dense is "dense"; the PyTorch modules, and
    so the weights' keys, and the run's key, stay as without names."""
    import numpy as np

    from mnistlab.config import parse_run_config, run_key
    from mnistlab.models import build_model
    from mnistlab.plots import feature_maps
    from mnistlab.summary import summarize

    layers = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "name": "edges"}, "Flatten",
              {"type": "Dense", "units": 8, "name": "hidden"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    spec = ModelSpec.from_dict({"layers": layers})
    assert [row.name for row in summarize(spec).rows] == ["edges", "flatten", "hidden", "dense"]
    plain = ModelSpec.from_dict({"layers": [{k: v for k, v in x.items() if k != "name"} if isinstance(x, dict) else x
                                            for x in layers]})
    assert [row.name for row in summarize(plain).rows] == ["conv2d", "flatten", "dense", "dense_1"]
    model = build_model(spec, seed=0)
    assert list(model.state_dict()) == list(build_model(plain, seed=0).state_dict())  # the same weights' keys
    assert [name for name, _ in feature_maps(model, np.zeros((1, 28, 28), np.uint8))] == ["edges"]
    assert ModelSpec.from_dict(spec.to_dict()) == spec and spec.to_dict()["layers"][0]["name"] == "edges"
    keys = [run_key(parse_run_config({"dataset": "mnist", "model": {"layers": x}}).resolved())
            for x in (layers, plain.to_dict()["layers"])]
    assert keys[0] == keys[1]  # renaming a layer trains nothing again
    assert Dense(10, name="out").name == "out" and Dense(10).to_dict() == {  # Python's keyword, as Keras's
        "type": "Dense", "units": 10, "activation": "linear", "kernel_initializer": "glorot_uniform", "use_bias": True}


@pytest.mark.parametrize(("named", "said"), [
    ({"type": "Dense", "units": 10, "name": "dense"}, 'layers[2] (Dense): name "dense" is layers[1] (Dense)\'s '
                                                      "(Keras's own name for it, unnamed): a model's layer names must "
                                                      "be unique"),
    ({"type": "Dense", "units": 10, "name": "input_layer"}, 'name "input_layer" is the input\'s'),
    ({"type": "Dense", "units": 10, "name": "a/b"}, 'name must be a string without "/" (as Keras asks), not empty'),
    ({"type": "Dense", "units": 10, "name": ""}, "not empty and without control characters; got string \"\""),
    ({"type": "Dense", "units": 10, "name": 7}, "got integer 7"),
    ({"type": "Dense", "units": 10, "name": "tab\there"}, "without control characters"),
    ({"type": "Dense", "units": 10, "name": "x\u001b[31m"}, "without control characters"),
    ({"type": "Residual", "branch": [{"type": "Dense", "units": 16}], "name": "block"},
     "layers[2] (Residual): name: a Residual is no one Keras layer but several; name the layers of its branch"),
])
def test_a_name_keras_refuses_or_gives_twice_is_one_line(named: dict, said: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    layers = ["Flatten", {"type": "Dense", "units": 16}, named]
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict({"layers": layers})
    assert said in str(err.value) and "\n" not in str(err.value), str(err.value)
    exp = tmp_path / "e.toml"
    exp.write_text(f'name = "n"\n[base]\ndataset = "mnist"\nmodel = {{ layers = {toml_repr(layers)} }}\n')
    assert cli_main(["run", str(exp), "--store", str(tmp_path / "s"), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err  # the file's mistake, before any data is looked for (none is there)
    assert err.count("\n") == 1 and said.replace("\u001b", "") in err.replace("\\x1b", "") and not (tmp_path / "s").exists(), err


def test_a_name_that_is_keras_s_auto_name_of_a_later_layer_is_said_at_the_named_one() -> None:
    """helper-136: `Conv2D(name="conv2d_1")` then a ResidualBlock (whose second conv Keras calls
    conv2d_1) was refused at the block, "name it otherwise", where the name to change is the first's."""
    layers = [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "name": "conv2d_1"},
              {"type": "ResidualBlock", "filters": 4}, "Flatten", {"type": "Dense", "units": 10}]
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict({"layers": layers})
    assert str(err.value).startswith('layers[0] (Conv2D): name "conv2d_1" is layers[1] (ResidualBlock)\'s (Keras\'s '
                                     "own name for it, unnamed)"), str(err.value)
    assert err.value.path == ("layers", 0, "name")
    twice = [{**layers[0], "name": "stem"}, {"type": "Residual", "branch": [{**layers[0], "name": "stem"}]}, *layers[2:]]
    with pytest.raises(SpecError) as err:  # helper-136: a branch layer's name was said to be the block's
        ModelSpec.from_dict({"layers": twice})
    assert str(err.value).startswith('layers[1] (Residual) branch[0] (Conv2D): name "stem" is layers[0] (Conv2D)\'s')
    assert err.value.path == ("layers", 1, "branch", 0, "name")
    with pytest.raises(SpecError, match="a ResidualBlock is no one Keras layer but several; its layers take Keras's "
                                        "auto-names"):  # and a name it cannot follow ("name the layers in it")
        ModelSpec.from_dict({"layers": [{"type": "ResidualBlock", "filters": 4, "name": "block"}, *layers[2:]]})


def test_a_renamed_layer_keeps_its_run_and_shows_the_files_names(tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """helper-136: after a rename (no retraining: names are out of the run key) the card and the
    feature maps of the file's variant showed the names the run was trained under."""
    import numpy as np

    from mnistlab.store import RunStore

    text = ('name = "rn"\n[base]\ndataset = "mnist"\ndata = { subset = 300 }\ntrain = { epochs = 2 }\n'
            'model = { layers = [{ type = "Conv2D", filters = 4, kernel_size = 3, activation = "relu"{n} }, '
            '"Flatten", { type = "Dense", units = 10, activation = "softmax" }] }\n')
    exp, store = tmp_path / "rn.toml", tmp_path / "s"
    common = ["--store", str(store), "--data-dir", str(data_dir)]
    exp.write_text(text.replace("{n}", ""))
    assert cli_main(["run", str(exp), *common]) == 0
    exp.write_text(text.replace("{n}", ', name = "edges"'))
    assert cli_main(["run", str(exp), *common]) == 0
    assert "skipped (already finished)" in capsys.readouterr().out and len(RunStore(store).runs()) == 1
    assert cli_main(["card", str(exp), *common]) == 0
    card = capsys.readouterr().out
    assert "| edges (Conv2D) |" in card and "conv2d (Conv2D)" not in card, card
    png = tmp_path / "maps.png"
    assert cli_main(["plot", "feature-maps", str(exp), "-o", str(png), *common]) == 0
    from mnistlab.run import load_trained
    from mnistlab.plots import feature_maps

    model = load_trained(store, str(exp)).model
    assert [name for name, _ in feature_maps(model, np.zeros((1, 28, 28), np.uint8))] == ["edges"]
    from mnistlab.export import metadata  # an export's keys are the modules' names: its metadata maps them

    assert json.loads(metadata(load_trained(store, str(exp)))["mnistlab.layer_names"]) == {"conv2d": "edges"}


def test_a_model_of_the_file_keeps_what_training_learned_beside_its_names(tmp_path: Path, data_dir: Path) -> None:
    """helper-179: a model given by its experiment file took the file's spec whole, so an adapted
    Normalization came back with mean and variance null: its safetensors export a traceback, its
    metadata an identity normalisation."""
    from mnistlab.run import load_trained

    text = ('name = "na"\n[base]\ndataset = "mnist"\ndata = { subset = 300 }\ntrain = { epochs = 1 }\n'
            'model = { layers = [{ type = "Normalization"{n} }, "Flatten", { type = "Dense", units = 10, '
            'activation = "softmax" }] }\n')
    exp, store = tmp_path / "na.toml", tmp_path / "s"
    exp.write_text(text.replace("{n}", ""))
    assert cli_main(["run", str(exp), "--store", str(store), "--data-dir", str(data_dir)]) == 0
    exp.write_text(text.replace("{n}", ', name = "scale"'))  # renamed since: the file's name, the run's statistics
    run = load_trained(store, str(exp))
    norm = run.config["model"]["layers"][0]
    assert norm.get("name") == "scale" and norm.get("mean") is not None and norm.get("variance") is not None, norm
    assert run.model.spec.to_dict()["layers"][0] == norm
    run.save(tmp_path / "na.safetensors")  # (a traceback: the adapted statistics' keys missing)
    assert (tmp_path / "na.safetensors").stat().st_size > 0


def test_keras_s_activation_layers_keep_their_keras_names_and_types() -> None:
    """helper-136: `{ type = "ReLU" }` (read as Activation("relu"), as Keras's JSON is) showed as
    "activation (Activation)" where Keras's summary says "re_lu (ReLU)"; the module keeps its name."""
    from mnistlab.models import build_model
    from mnistlab.summary import summarize

    spec = ModelSpec.from_dict({"layers": ["Flatten", {"type": "Dense", "units": 16}, {"type": "ReLU"},
                                           {"type": "Activation", "activation": "relu"},
                                           {"type": "LeakyReLU", "negative_slope": 0.2}, {"type": "Dense", "units": 10},
                                           {"type": "Softmax"}]})
    assert [(row.name, row.type) for row in summarize(spec).rows][2:5] == [
        ("re_lu", "ReLU"), ("activation", "Activation"), ("leaky_re_lu", "LeakyReLU")]
    assert [n for n, _ in build_model(spec, seed=0).named_children()][2:5] == ["activation", "activation_1", "activation_2"]
    with pytest.raises(SpecError, match="keras_class = string \"ELU\": the Keras layer this relu activation"):
        Activation("relu", keras_class="ELU")


@pytest.mark.parametrize("padding, pairs, shape", [
    (None, ((1, 1), (1, 1)), (14, 14, 3)),          # Keras's default, 1 on every side
    (2, ((2, 2), (2, 2)), (16, 16, 3)),
    ([1, 0], ((1, 1), (0, 0)), (14, 12, 3)),        # (height, width)
    ([[0, 2], [1, 0]], ((0, 2), (1, 0)), (14, 13, 3)),  # ((top, bottom), (left, right))
])
def test_zero_padding_reads_keras_three_forms_and_grows_the_map(padding, pairs, shape):
    table = {"type": "ZeroPadding2D"} if padding is None else {"type": "ZeroPadding2D", "padding": padding}
    layer = layer_from_dict(table)
    assert layer.padding == pairs and layer.output_shape((12, 12, 3)) == shape
    assert layer.params((12, 12, 3)) == (0, 0) and layer.to_dict() == {"type": "ZeroPadding2D",
                                                                       "padding": [list(p) for p in pairs]}


@pytest.mark.parametrize("padding, says", [
    (-1, "whole numbers >= 0, got integer -1"), (1.5, "must be an integer, a pair"),
    ([1, 2, 3], "must be an integer, a pair"), ([[1, 2], [3]], "must be an integer, a pair"), (True, "must be an integer"),
    (9000, "too large"),
])
def test_a_bad_zero_padding_is_a_one_line_spec_error_at_its_key(padding, says):
    with pytest.raises(SpecError, match=re.escape(says)) as info:
        parse_model_spec(_layers({"type": "ZeroPadding2D", "padding": padding}, FLAT, OUT))
    assert info.value.path == ("layers", 0, "padding") and "\n" not in str(info.value)


@pytest.mark.parametrize("axis, ok", [(-1, True), (3, True), (1, False), (True, False), ("3", False)])
def test_batch_normalization_takes_keras_channel_axis(axis, ok: bool) -> None:
    """helper-222: keras.applications' ResNets write BatchNormalization(axis=3) (channels last), which a
    spec refused as an unknown key, though the same layer from Keras's JSON was read."""
    from mnistlab.specs import ModelSpec

    d = {"input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3},
                                                {"type": "BatchNormalization", "axis": axis},
                                                {"type": "Flatten"}, {"type": "Dense", "units": 10}]}
    if ok:
        plain = ModelSpec.from_dict({**d, "layers": [d["layers"][0], {"type": "BatchNormalization"}, *d["layers"][2:]]})
        assert ModelSpec.from_dict(d) == plain  # the same layer, written or not
    else:
        with pytest.raises(SpecError, match=r"layers\[1\] \(BatchNormalization\): axis = .*: mnistlab normalizes the "
                                            "channels, the last axis"):
            ModelSpec.from_dict(d)


def test_a_list_of_layer_objects_is_a_model_spec_as_a_keras_list_of_layers_is() -> None:
    """helper-237: train('mnist', [Conv2D(8, 3), Flatten(), Dense(10)]) said "a layer must be a table"
    while ModelSpec(layers=[...]) took the same objects; tables, names and objects mix."""
    from mnistlab.specs import Conv2D, Dense, Flatten, MaxPooling2D, parse_model_spec

    spec = parse_model_spec([Conv2D(8, 3, activation="relu"), MaxPooling2D(2), "Flatten",
                             {"type": "Dense", "units": 10, "activation": "softmax"}])
    assert spec.layers == (Conv2D(8, 3, activation="relu"), MaxPooling2D(2), Flatten(), Dense(10, activation="softmax"))
    assert parse_model_spec(spec.to_dict()) == spec  # recorded as tables, read back the same


@pytest.mark.parametrize(("table", "slope"), [({"type": "LeakyReLU"}, 0.3), ({"type": "LeakyReLU", "alpha": 0.1}, 0.1),
                                             ({"type": "LeakyReLU", "negative_slope": 0.01}, 0.01),
                                             ({"type": "LeakyReLU", "negative_slope": 0.2}, 0.2),
                                             ({"type": "Activation", "activation": "leaky_relu"}, 0.2)])
def test_a_leaky_relu_layer_takes_keras_s_slope(table: dict, slope: float) -> None:
    """helper-245: Keras's LeakyReLU(alpha=0.1) and LeakyReLU() (slope 0.3, Keras 3's default and tf.keras
    2's) were refused: only the leaky_relu activation's 0.2 could be built."""
    import torch

    from mnistlab.models import build_model

    spec = ModelSpec.from_dict({"input_shape": [28, 28, 1], "layers": [
        "Flatten", {"type": "Dense", "units": 4}, table, {"type": "Dense", "units": 10, "activation": "softmax"}]})
    model = build_model(spec)
    x = torch.tensor([[-2.0, -1.0, 0.5, 3.0]])
    leaky = next(m for m in model.modules() if isinstance(m, torch.nn.LeakyReLU))
    assert leaky(x)[0].tolist() == pytest.approx([-2.0 * slope, -1.0 * slope, 0.5, 3.0])
    again = ModelSpec.from_dict(spec.to_dict())  # recorded and read back: the same model, the same run key
    assert again == spec and again.to_dict() == spec.to_dict()
    assert ("negative_slope" in spec.to_dict()["layers"][2]) == (slope != 0.2)  # 0.2: as runs recorded it before


def test_a_keras_argument_a_layer_does_not_take_is_said_in_one_line() -> None:
    """helper-245: Conv2D(32, (3, 3), input_shape=(28, 28, 1)), as a Keras notebook writes its first
    layer, raised a bare TypeError ("unexpected keyword argument")."""
    from mnistlab.errors import SpecError

    with pytest.raises(SpecError, match=r"^Conv2D\(\): no argument 'input_shape' \(the input's shape is the model's: "
                                        r"ModelSpec\(input_shape=\(28, 28, 1\), layers=\[\.\.\.\]\), not a layer's\); it takes "):
        Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
    with pytest.raises(SpecError, match=r"^Dense\(\): no argument 'activaton' \(did you mean \"activation\"\?\)"):
        Dense(10, activaton="relu")
    assert Dense(10, activation="relu").units == 10  # its own arguments still taken, by keyword and by position
