"""A Keras model's JSON (model.to_json()) read as mnistlab's spec: against what Keras 3 said of the same
models (tests/data/keras_models.json, written by bench/keras_model_json.py), and refusals of what
mnistlab does not build."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import SpecError
from mnistlab.models import build_model
from mnistlab.specs import parse_model_spec
from mnistlab.summary import summarize

RECORDED = json.loads((Path(__file__).parent / "data" / "keras_models.json").read_text())["models"]
READABLE = [name for name, m in RECORDED.items() if "refused" not in m]
REFUSED = [name for name, m in RECORDED.items() if "refused" in m]


@pytest.mark.parametrize("name", READABLE)
def test_a_keras_models_json_reads_as_the_same_layers_shapes_and_parameters(name: str) -> None:
    keras = RECORDED[name]
    spec = parse_model_spec(keras["json"])
    summary = summarize(spec)
    assert summary.total == keras["params"] and summary.trainable == keras["trainable"]
    assert sum(p.numel() for p in build_model(spec).parameters()) == keras["trainable"]  # what trains, as Keras
    shapes = [list(shape) for shape in spec.shapes()]
    if name == "flat-dense":  # its flat 784 input is read as the 28x28x1 image, with a Flatten first
        assert spec.input_shape == (28, 28, 1) and spec.layers[0].type == "Flatten" and shapes[0] == [784]
        shapes = shapes[1:]
    assert shapes == keras["output_shapes"]


@pytest.mark.parametrize("name", READABLE)
def test_a_keras_models_layers_keep_the_names_its_json_gives_them(name: str) -> None:
    """Note 39's leftover: the summary replaced the JSON's names (Keras's summary of the loaded model
    shows "conv2d_1", "dense_7") with fresh auto-names; the PyTorch modules keep theirs."""
    layers = RECORDED[name]["json"]["config"]["layers"]
    skipped = ("InputLayer", "Rescaling", "Reshape")  # the input, and its preparation mnistlab does itself
    named = [layer["config"]["name"] for layer in layers if layer["class_name"] not in skipped]
    spec = parse_model_spec(RECORDED[name]["json"])
    shown = [row.name for row in summarize(spec).rows]
    assert shown == (["flatten", *named] if name == "flat-dense" else named)  # (its flat input's own Flatten first)
    modules = [n for n, _ in build_model(spec).named_children()]  # names change no module's (no weight's key)
    assert modules == [n for n, _ in build_model(parse_model_spec(_unnamed(RECORDED[name]["json"]))).named_children()]
    types = [layer["class_name"] for layer in layers if layer["class_name"] not in skipped]
    shown_types = [row.type for row in summarize(spec).rows]  # ReLU, Softmax...: as Keras's summary types them
    assert shown_types == (["Flatten", *types] if name == "flat-dense" else types)


def _unnamed(saved: dict) -> dict:
    """A Keras JSON without its layers' names: mnistlab's auto-names, those its modules are built with."""
    config = json.loads(json.dumps(saved))
    for layer in config["config"]["layers"]:
        layer["config"].pop("name", None)
    return config


def test_model_to_json_text_is_a_model_in_python_too() -> None:
    """helper-125: `summarize(keras_model.to_json())` and `train(model=...)` said `unknown model "{...`,
    where the CLI read the same text."""
    keras = RECORDED[READABLE[0]]
    assert summarize(json.dumps(keras["json"])).total == keras["params"]
    assert summarize(" " + json.dumps(keras["json"], indent=2)).total == keras["params"]  # as a file holds it
    assert summarize('{ conv = [8], dense = [16] }').total == summarize({"conv": [8], "dense": [16]}).total
    with pytest.raises(SpecError, match="^the model is written as JSON but does not read as JSON: Expecting value"):
        summarize('{"class_name": "Sequential", "config": ')
    assert summarize("\ufeff" + json.dumps(keras["json"])).total == keras["params"]  # a file's byte-order mark first
    with pytest.raises(SpecError, match=r'^a Keras Sequential model\'s JSON whose config is null, not the table of'):
        summarize({"class_name": "Sequential", "config": None})


def test_errors_found_once_read_name_the_layer_as_the_json_numbers_and_names_it() -> None:
    """helper-125/126: a setting's error said `layers[6] "dense"` (the JSON's count, InputLayer first),
    a shape's `layers[4] (Dense)` (mnistlab's, without it) and no name: one count, one name."""
    import copy

    cnn = copy.deepcopy(RECORDED["seed000-cnn"]["json"])
    cnn["config"]["layers"][1]["config"].update(kernel_size=[30, 30])  # conv2d_1: wider than the image
    with pytest.raises(SpecError, match=r'^layers\[1\] "conv2d_1" \(Conv2D\): convolution window 30x30'):
        parse_model_spec(cnn)
    cnn = copy.deepcopy(RECORDED["seed000-cnn"]["json"])
    del cnn["config"]["layers"][5]  # flatten_1 gone: a Dense on a feature map
    dense = next(i for i, layer in enumerate(cnn["config"]["layers"]) if layer["class_name"] == "Dense")
    name = cnn["config"]["layers"][dense]["config"]["name"]
    with pytest.raises(SpecError, match=rf'^layers\[{dense}\] "{name}" \(Dense\): Dense on a'):
        parse_model_spec(cnn)
    flat = copy.deepcopy(RECORDED["flat-dense"]["json"])  # a flat input: mnistlab puts a Flatten first
    flat["config"]["layers"][1]["config"].update(units=1_000_000)
    with pytest.raises(SpecError, match=r'more than the limit of 500,000,000: layers\[1\] "dense_4" \(Dense\) holds'):
        parse_model_spec(flat)


def test_a_normalization_to_adapt_on_a_flat_input_says_what_keras_would_learn() -> None:
    """helper-190: Normalization() first on Keras's Input((784,)) was refused as "it must be the first
    layer", which it is (mnistlab's own Flatten comes first): Keras learns one mean and variance per
    pixel there, mnistlab one over every pixel of an image."""
    flat = copy.deepcopy(RECORDED["flat-dense"]["json"])
    norm = {"module": "keras.layers", "class_name": "Normalization", "registered_name": None,
            "config": {"name": "normalization_1", "axis": [-1], "invert": False, "mean": None, "variance": None}}
    flat["config"]["layers"].insert(1, norm)
    with pytest.raises(SpecError, match=r'^layers\[1\] "normalization_1" \(Normalization\): adapted on the input '
                                        r"\[null, 784\], Keras learns a mean and a variance for each pixel \(its last"):
        parse_model_spec(flat)
    square = copy.deepcopy(flat)  # Input((28, 28)), load_data()'s images (helper-192: read, one mean for all)
    square["config"]["layers"][0]["config"]["batch_shape"] = [None, 28, 28]
    with pytest.raises(SpecError, match=r"adapted on the input \[null, 28, 28\], Keras learns a mean and a variance "
                                        r"for each column of pixels"):
        parse_model_spec(square)
    norm["config"].update(mean=0.5, variance=0.25)  # given: read, after the Flatten
    assert [layer.type for layer in parse_model_spec(flat).layers][:2] == ["Flatten", "Normalization"]


def test_numpy_numbers_are_the_numbers_they_hold() -> None:
    """helper-125: `units=np.int64(10)` said "units must be an integer, got integer 10" (Keras takes it)."""
    import numpy as np

    from mnistlab.config import parse_run_config

    layers = [{"type": "Flatten"}, {"type": "Dense", "units": np.int64(10), "activation": "softmax"}]
    assert summarize(layers).total == 7850 == summarize(tuple(layers)).total
    assert summarize({"conv": [np.int32(8)], "dense": [16], "dropout": np.float32(0.5)}).total == \
        summarize({"conv": [8], "dense": [16], "dropout": 0.5}).total
    cfg = parse_run_config({"dataset": "mnist", "model": {"layers": layers},
                            "train": {"epochs": np.int64(2), "lr": np.float64(0.01), "nesterov": np.bool_(False)},
                            "data": {"subset": np.int64(600)}})
    assert (cfg.train.epochs, cfg.train.lr, cfg.data.subset) == (2, 0.01, 600) and type(cfg.train.epochs) is int
    from mnistlab.config import run_key

    lr32 = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"lr": np.float32(0.01)}})
    assert lr32.train.lr == float(np.float32(0.01))  # its exact value, as runs recorded it before NumPy ints were read:
    plain = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"lr": 0.009999999776482582}})
    assert run_key(lr32.resolved()) == run_key(plain.resolved())  # the same run as before this reading (helper-127)
    with pytest.raises(SpecError, match="units must be an integer, got float 1.5"):  # a wrong number still is
        summarize([{"type": "Flatten"}, {"type": "Dense", "units": np.float64(1.5)}])


def test_what_a_keras_layer_says_is_what_the_spec_holds() -> None:
    spec = parse_model_spec(RECORDED["bn-regularized"]["json"])
    conv, bn = spec.layers[0], spec.layers[4]
    assert (conv.filters, conv.kernel_size, conv.padding, conv.kernel_initializer, conv.use_bias) == (
        32, (3, 3), "same", "he_normal", False)
    assert conv.kernel_regularizer.l2 == pytest.approx(0.01) and spec.layers[3].strides == (2, 2)
    assert spec.layers[3].kernel_regularizer.l1 == pytest.approx(1e-5)
    assert (bn.momentum, bn.epsilon) == (pytest.approx(0.9), pytest.approx(1e-5))
    assert spec.layers[-1].kernel_initializer == "random_normal" and spec.layers[-1].activation == "softmax"


@pytest.mark.parametrize("name", REFUSED)
def test_what_mnistlab_does_not_build_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_model_spec(RECORDED[name]["json"])
    assert RECORDED[name]["refused"] in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_keras_json_file_is_a_model_for_every_command(tmp_path: Path, data_dir: Path, capsys) -> None:
    """New-user finding (helper-99): `summary keras.json` said only "expected 'layers'"."""
    path = tmp_path / "model.json"
    path.write_text(json.dumps(RECORDED["seed000-cnn"]["json"]))
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('Model: "sequential"') and "Total params: 243,786" in out and "(None, 5, 5, 64)" in out
    assert main(["train", "--model", str(path), "--dataset", "mnist", "--subset", "60", "--epochs", "1",
                 "--progress", "none", "--data-dir", str(data_dir), "--no-record"]) == 0
    assert "params: 243,786" in capsys.readouterr().out
    bad = tmp_path / "dilated.json"
    bad.write_text(json.dumps(RECORDED["dilated"]["json"]))
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {bad}: layers[1] "conv2d') and '(Conv2D): dilation_rate = [2, 2] is a setting' in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(("change", "said"), [
    (lambda d: d.update(class_name="Bidirectional"), 'of class "Bidirectional": only a Sequential model'),
    (lambda d: d.update(config=d["config"]["layers"], keras_version="1.2.2"),  # helper-125: "of class Sequential: only ..."
     "a Keras 1.2.2 model's JSON in the old format (its config is the list of layers): save it again with Keras 3"),
    (lambda d: d["config"].update(layers="x"), "without its config's list of layers"),
    (lambda d: d["config"]["layers"][0]["config"].update(batch_shape=[None, 10, 3, 2, 1]),
     "input shape is [null, 10, 3, 2, 1]: mnistlab's models take images"),
    (lambda d: d["config"]["layers"][0]["config"].update(batch_shape=[None, 783]), "input shape is [null, 783]"),
    (lambda d: d["config"]["layers"][0]["config"].update(batch_shape="28x28"), "input shape is"),
    (lambda d: d["config"]["layers"][1]["config"].update(kernel_initializer={"class_name": "Identity"}),
     "Keras's Identity is no initializer mnistlab builds"),
    # one wording for a layer not built, in a spec and a Keras JSON alike (the review of session 44)
    (lambda d: d["config"]["layers"][1].update(class_name="AlphaDropout"),
     "Keras's AlphaDropout is a layer mnistlab does not build; it reads "),
    (lambda d: d["config"]["layers"][1].update(class_name="RandomRotation"),
     "Keras's RandomRotation is a layer mnistlab does not build (random augmentation is a run's augment table here"),
    # in the augment table's units (helper-195: RandomRotation(0.1) is 36 degrees, rotation_range = 0.1 a tenth of one)
    (lambda d: d["config"]["layers"][1].update(class_name="RandomRotation", config={"factor": [-0.1, 0.1]}),
     "augment table here: augment = { rotation_range = 36 } (its factor 0.1 is a fraction of a turn))"),
    (lambda d: d["config"]["layers"][1].update(class_name="RandomTranslation",
                                               config={"height_factor": 0.1, "width_factor": [-0.2, 0.2]}),
     "augment = { height_shift_range = 0.1, width_shift_range = 0.2 })"),
    (lambda d: d["config"]["layers"][1]["config"].update(kernel_constraint={"class_name": "MaxNorm"}),
     "kernel_constraint = MaxNorm() is a setting mnistlab does not build"),
    (lambda d: d["config"]["layers"][1]["config"].update(filters=-3, name="c1"),
     'layers[1] "c1" (Conv2D): filters must be at least 1, got -3'),
    (lambda d: d["config"]["layers"][1].update(config=None), 'layers[1] ("Conv2D"): its config is null, not the table'),
    (lambda d: d["config"]["layers"][1].update(config=[]), 'layers[1] ("Conv2D"): its config is [], not the table'),
    (lambda d: d["config"]["layers"][1].pop("config"), "layers[1] (Conv2D): missing 'filters'"),  # none: its defaults
    # helper-100's review: each of these changes what the layer computes, and was taken without a word
    (lambda d: d["config"]["layers"][1]["config"].update(trainable="no"), 'trainable = "no": true or false'),
    (lambda d: d["config"]["layers"][1]["config"]["kernel_initializer"]["config"].update(output_axes=[0]),
     "GlorotUniform with output_axes = [0]"),
    (lambda d: d["config"]["layers"][1]["config"]["kernel_initializer"].update(config=[1]),
     "GlorotUniform's config [1] is not a table"),
    (lambda d: d["config"]["layers"][1]["config"].update(groups=0, lora_rank=0), "groups = 0 is a setting"),
    (lambda d: d["config"]["layers"][1]["config"].update(lora_rank=0), "lora_rank = 0 is a setting"),
    (lambda d: d["config"]["layers"][1]["config"].update(name=""), 'not empty and without control characters; got string ""'),
    (lambda d: d["config"]["layers"][1]["config"].update(name=123), "name must be a string"),  # (helper-149: auto-named)
    (lambda d: d["config"]["layers"][1]["config"].update(dtype={"class_name": "DTypePolicy",
                                                                "config": {"name": "mixed_float16"}}),
     'dtype policy "mixed_float16": mnistlab\'s layers hold float32 weights'),
])
def test_a_damaged_or_foreign_keras_json_is_one_line(change, said: str) -> None:
    written = json.loads(json.dumps(RECORDED["seed000-cnn"]["json"]))
    change(written)
    with pytest.raises(SpecError) as err:
        parse_model_spec(written)
    assert said in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_tf_keras_2_json_reads_too() -> None:
    """tf.keras 2 writes the input shape on the first layer and initializers without their module."""
    written = {"class_name": "Sequential", "keras_version": "2.15.0", "backend": "tensorflow", "config": {
        "name": "sequential", "layers": [
            {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "batch_input_shape": [None, 28, 28],
                                                 "dtype": "float32", "data_format": "channels_last"}},
            {"class_name": "Dense", "config": {"name": "dense", "units": 128, "activation": "relu", "use_bias": True,
                                               "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                                               "bias_initializer": {"class_name": "Zeros", "config": {}},
                                               "kernel_regularizer": None, "activity_regularizer": None}},
            {"class_name": "Dense", "config": {"name": "dense_1", "units": 10, "activation": "softmax"}}]}}
    spec = parse_model_spec(written)
    assert spec.input_shape == (28, 28, 1) and summarize(spec).total == 101_770  # seed 000's dense model


def test_a_functional_model_is_read_only_as_one_chain_called_plainly_to_its_one_output() -> None:
    chain = RECORDED["functional-chain"]["json"]
    called = json.loads(json.dumps(chain))
    called["config"]["layers"][2]["inbound_nodes"][0]["kwargs"] = {"training": True}  # BatchNormalization(x, training=True)
    with pytest.raises(SpecError, match=r"^layers\[2\] \(\"BatchNormalization\"\): called with .*training"):
        parse_model_spec(called)
    called["config"]["layers"][2]["inbound_nodes"][0]["kwargs"] = {"training": False}  # as Keras 3 writes a plain call
    assert summarize(parse_model_spec(called)).total == RECORDED["functional-chain"]["params"]  # (fit gives its own)
    tf2 = {"class_name": "Functional", "config": {"name": "m", "input_layers": [["in", 0, 0]], "output_layers": [["o", 0, 0]],
                                                  "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [None, 28, 28, 1], "name": "in"},
         "inbound_nodes": []},
        {"class_name": "Flatten", "name": "f", "config": {"name": "f"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
        {"class_name": "Dropout", "name": "d", "config": {"name": "d", "rate": 0.5},
         "inbound_nodes": [[["f", 0, 0, {"training": False}]]]},  # tf.keras 2 keeps it at fit time: never dropped
        {"class_name": "Dense", "name": "o", "config": {"name": "o", "units": 10}, "inbound_nodes": [[["d", 0, 0, {}]]]}]}}
    with pytest.raises(SpecError, match=r'^layers\[2\] \("Dropout"\): called with \[\{"training": false\}\]'):
        parse_model_spec(tf2)
    tf2["config"]["layers"][2]["inbound_nodes"] = [[["f", 0, 0, {}]]]
    assert summarize(parse_model_spec(tf2)).total == 7_850
    two = json.loads(json.dumps(chain))
    two["config"]["output_layers"] = [two["config"]["output_layers"], ["flatten", 0, 0]]  # an intermediate output too
    with pytest.raises(SpecError, match="only one output, its last layer's, is read"):
        parse_model_spec(two)
    inner = json.loads(json.dumps(chain))
    inner["config"]["output_layers"] = [inner["config"]["layers"][-2]["config"]["name"], 0, 0]
    with pytest.raises(SpecError, match="only one output"):
        parse_model_spec(inner)


@pytest.mark.parametrize("change, said", [
    (lambda layers: layers[2].update(config="str"), 'layers[2] ("BatchNormalization"): its config is "str", not the table'),
    (lambda layers: layers[-1].update(config=[1]), 'layers[6] ("Dense"): its config is [1], not the table of its settings'),
    (lambda layers: layers[3]["inbound_nodes"][0]["args"][0].update(config="x"), "do not form one chain"),
    (lambda layers: layers[3].update(class_name="Evil" + "Z" * 3000), "layers[3] \"activation_1\" (EvilZZZ"),
])
def test_a_damaged_functional_keras_json_is_one_line(change, said: str) -> None:
    """helper-149: a Functional model's layer config that is no table raised AttributeError (a
    traceback), or read as the layer's defaults; a 3,000-character class name was said whole."""
    written = json.loads(json.dumps(RECORDED["functional-chain"]["json"]))
    change(written["config"]["layers"])
    with pytest.raises(SpecError) as err:
        parse_model_spec(written)
    assert said in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 500, str(err.value)


def test_a_model_name_with_a_control_character_is_refused() -> None:
    """helper-149: a newline in the model's name printed a second, forged `Model: "fake"` line in its
    summary, and split the rows of `mnistlab runs`."""
    written = json.loads(json.dumps(RECORDED["functional-chain"]["json"]))
    written["config"]["name"] = 'line1\nModel: "fake"'
    with pytest.raises(SpecError, match=r'^name must be without control characters; got string "line1\\nModel'):
        parse_model_spec(written)
    with pytest.raises(SpecError, match="without control characters"):
        parse_model_spec({"name": "a\x1b[31mb", "layers": ["Flatten", {"type": "Dense", "units": 10}]})


def test_a_batch_normalization_normalises_the_last_axis_as_tf_keras_2_writes_it() -> None:
    """tf.keras 2 writes BatchNormalization's axis as the positive last axis: [1] after a Dense, [3] after a conv."""
    def model(first: dict, axis: object) -> dict:
        return {"class_name": "Sequential", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1]}}, first,
            {"class_name": "BatchNormalization", "config": {"axis": axis, "trainable": True, "dtype": "float32"}},
            {"class_name": "Flatten", "config": {}}, {"class_name": "Dense", "config": {"units": 10}}]}}

    dense = {"class_name": "Dense", "config": {"units": 16}}
    flat = {"class_name": "Flatten", "config": {}}
    conv = {"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": [3, 3]}}
    for first, axis in ((conv, [3]), (conv, -1), (conv, 3)):
        assert parse_model_spec(model(first, axis)).layers[1].type == "BatchNormalization"
    spec = parse_model_spec({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 28, 28, 1]}}, flat, dense,
        {"class_name": "BatchNormalization", "config": {"axis": [1]}}, {"class_name": "Dense", "config": {"units": 10}}]}})
    assert [layer.type for layer in spec.layers] == ["Flatten", "Dense", "BatchNormalization", "Dense"]
    with pytest.raises(SpecError, match=r"axis = \[1\]: mnistlab's BatchNormalization normalises the last axis"):
        parse_model_spec(model(conv, [1]))


def test_a_compiled_models_json_says_its_compile_settings_are_not_read() -> None:
    from mnistlab.errors import SpecWarning

    compiled = {**RECORDED["seed000-cnn"]["json"], "compile_config": {"optimizer": "sgd", "loss": "mse"}}
    with pytest.warns(SpecWarning, match=r"compile settings \(optimizer, loss, metrics\) are not read"):
        assert summarize(parse_model_spec(compiled)).total == RECORDED["seed000-cnn"]["params"]


def test_settings_every_layer_has_are_read_alike_in_every_layer() -> None:
    """Read-through: a layer without weights frozen (as `model.trainable = False` writes it on
    every layer) computes the same, so it reads; a weighted one frozen reads frozen (Keras's
    trainable = False); a dtype policy is the same refusal on an activation layer as on a Conv2D (it
    said "a setting mnistlab does not build")."""
    written = json.loads(json.dumps(RECORDED["activation-layers"]["json"]))
    layers = written["config"]["layers"]
    for layer in layers[1:]:
        if layer["class_name"] in ("ReLU", "Flatten", "LeakyReLU", "Softmax", "Normalization"):
            layer["config"]["trainable"] = False
    assert summarize(parse_model_spec(written)).total == RECORDED["activation-layers"]["params"]
    relu = next(i for i, layer in enumerate(layers) if layer["class_name"] == "ReLU")
    layers[relu]["config"]["dtype"] = {"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}
    with pytest.raises(SpecError, match=r'\(ReLU\): dtype policy "mixed_bfloat16": mnistlab\'s layers hold float32'):
        parse_model_spec(written)
    layers[relu]["config"]["dtype"] = "float32"
    dense = next(i for i, layer in enumerate(layers) if layer["class_name"] == "Dense")
    layers[dense]["config"]["trainable"] = False
    spec = parse_model_spec(written)
    frozen = next(layer for layer in spec.layers if layer.type == "Dense")
    assert frozen.trainable is False and summarize(spec).total == RECORDED["activation-layers"]["params"]
    assert summarize(spec).non_trainable >= sum(frozen.params(spec.shapes()[spec.layers.index(frozen) - 1]))


def test_a_keras_file_is_read_for_its_layers_and_a_wrong_one_is_one_line(tmp_path: Path, capsys) -> None:
    # helper-259: `model = "m.keras"` (model.save's file) said "must end in .toml or .json"; a .keras file is a
    # zip holding config.json, the text model.to_json() gives (here the recorded seed000-cnn's)
    import zipfile

    from mnistlab.errors import SpecWarning
    from mnistlab.specs import load_model_spec

    keras = RECORDED["seed000-cnn"]
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", json.dumps(keras["json"]))
        archive.writestr("model.weights.h5", b"\x89HDF")
    with pytest.warns(SpecWarning, match="its layers are read .*its weights are not"):
        spec = load_model_spec(path)
    assert spec.to_dict() == parse_model_spec(keras["json"]).to_dict()
    assert summarize(spec).total == keras["params"]
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (tmp_path / "m.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (tmp_path / "junk.keras").write_text("not a zip")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    (tmp_path / "twice.json").write_text(json.dumps(json.dumps(keras["json"])))  # json.dump(model.to_json(), f)
    for name, said in (("m.h5", 'a Keras HDF5 file (model.save("m.h5")): mnistlab reads a Keras model\'s layers from a '
                                ".keras file"),
                       ("m.weights.h5", "Keras's weights alone (model.save_weights)"),
                       ("junk.keras", "not a .keras model file Keras wrote"),
                       ("empty.keras", "a zip without Keras's config.json"),
                       ("missing.keras", "no such file"),
                       ("twice.json", "(a JSON text inside JSON: json.dump(model.to_json(), f) writes it so")):
        assert main(["summary", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_model_file_given_as_an_experiment_or_a_run_config_says_where_a_model_goes(tmp_path: Path, capsys) -> None:
    # helper-262: `run model.json` pointed at `train --config`, which said "layers: unknown key" in turn
    path = tmp_path / "good.json"
    path.write_text(json.dumps(RECORDED["seed000-cnn"]["json"]))
    assert main(["run", str(path), "--dry-run"]) == 2
    assert f'(it is a model: an experiment names it as model = "good.json" in [base]; `mnistlab train --model {path}`)' \
        in capsys.readouterr().err
    for name, text in (("good.json", None), ("layers.toml", '[[layers]]\ntype = "Flatten"\n')):
        if text is not None:
            (tmp_path / name).write_text(text)
        assert main(["train", "--config", str(tmp_path / name), "--no-record"]) == 2
        err = capsys.readouterr().err
        assert f"is a model, not a run config: give it as --model {tmp_path / name}" in err and err.count("\n") == 1
