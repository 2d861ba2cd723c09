"""Residual networks in Keras words (issue 16): Residual and ResidualBlock layers, the ResNet presets.

Keras's numbers come from tests/data/keras_resnet.json, recorded by bench/keras_resnet.py from
functional models written by hand in Keras (TensorFlow is not a test dependency).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.accel.members import batch_refusal
from mnistlab.cli import main
from mnistlab.config import parse_run_config
from mnistlab.datasets import load_dataset
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.export import export_model, verify_file
from mnistlab.models import build_model, count_parameters, keras_names
from mnistlab.summary import format_summary, summarize, training_memory
from mnistlab.presets import get_preset, resolve_model
from mnistlab.run import train
from mnistlab.specs import (
    BLOCK_TYPES, Activation, BatchNormalization, Conv2D, Dense, Flatten, GlobalAveragePooling2D, LayerSpec, ModelSpec,
    Residual, ResidualBlock, keras_graph, load_model_spec, parse_model_spec, save_model_spec,
)

KERAS = json.loads((Path(__file__).parent / "data" / "keras_resnet.json").read_text())["models"]
RESNETS = ["resnet20", "resnet20-v2", "wide-resnet-16-4"]
PRESETS = [*RESNETS, "an2020-m3", "an2020-m5", "an2020-m7"]  # every preset recorded beside its Keras model


# ------------------------------------------------------------------ the summary against Keras's
@pytest.mark.parametrize("name", list(KERAS))
def test_summary_is_keras_summary_of_the_same_functional_model(name):
    """Every row: name (Keras's auto-naming), class, output shape, parameters, inputs; Keras's order."""
    keras = KERAS[name]["keras"]
    summary = summarize(resolve_model(KERAS[name]["mnistlab"]))
    mine = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape), "params": r.params,
             "connected_to": list(r.connected_to)} for r in summary.rows]
    assert mine == keras["rows"]
    assert (summary.total, summary.trainable, summary.non_trainable) == (
        keras["total"], keras["trainable"], keras["non_trainable"])
    assert summary.name == (name if name in PRESETS else keras["name"])  # an unnamed one is "functional"


@pytest.mark.parametrize("name", PRESETS)
def test_presets_count_what_keras_counts_and_build_those_weights(name):
    preset = get_preset(name)
    assert preset.expected_params == KERAS[name]["keras"]["total"]
    model = build_model(preset.spec, seed=0)
    assert count_parameters(model) == (KERAS[name]["keras"]["trainable"], KERAS[name]["keras"]["non_trainable"])
    assert summarize(preset.spec).total == preset.expected_params


def test_resnet20_is_the_papers_size_and_shape():
    """He et al. 2016: 0.27M parameters, 19 convolutions + the Dense = 20 weighted layers (projections aside)."""
    nodes = keras_graph(get_preset("resnet20").spec)
    convs = [n for n in nodes if n.type == "Conv2D" and n.layer.kernel_size == (3, 3)]
    assert len(convs) == 19 and [n.shape[2] for n in convs] == [16] * 7 + [32] * 6 + [64] * 6
    assert [n.shape[:2] for n in convs][::6] == [(28, 28), (28, 28), (14, 14), (7, 7)]
    assert abs(summarize("resnet20").total - 270_000) < 10_000
    assert sum(n.type == "Add" for n in nodes) == 9


def test_the_printed_table_has_keras_connected_to_column():
    text = format_summary(summarize(KERAS["graph-form"]["mnistlab"]))
    lines = text.splitlines()
    assert lines[0] == 'Model: "functional"' and "Connected to" in lines[2]
    add = next(i for i, line in enumerate(lines) if line.startswith(" add (Add)"))
    assert lines[add].endswith("conv2d_2[0][0]") and lines[add + 1].strip() == "conv2d[0][0]"
    assert "Total params: 699" in text
    plain = format_summary(summarize("seed000-cnn"))
    assert "Connected to" not in plain and "input_layer" not in plain  # a Sequential stays as it was


# ------------------------------------------------------------------ the spec form
EXAMPLES: dict[str, LayerSpec] = {
    "Residual": Residual((Conv2D(4, 3, padding="same", activation="relu"), BatchNormalization(momentum=0.9)),
                         (Conv2D(4, 1),), activation="elu"),
    "ResidualBlock": ResidualBlock(6, kernel_size=5, strides=2, preactivation=True, batch_norm=True,
                                   projection="always", projection_batch_norm=True, activation="gelu",
                                   kernel_initializer="glorot_uniform", use_bias=False),
}


def test_examples_cover_the_block_registry():
    assert set(EXAMPLES) == set(BLOCK_TYPES)


@pytest.mark.parametrize("type_name", list(BLOCK_TYPES))
def test_blocks_round_trip_dict_json_toml(type_name, tmp_path):
    spec = ModelSpec(layers=(Conv2D(4, 3), EXAMPLES[type_name], GlobalAveragePooling2D(), Dense(10)),
                     input_shape=(12, 12, 1))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert parse_model_spec(json.loads(json.dumps(spec.to_dict()))) == spec
    for suffix in (".toml", ".json"):
        save_model_spec(spec, tmp_path / f"m{suffix}")
        assert load_model_spec(tmp_path / f"m{suffix}") == spec
    assert hash(spec) == hash(load_model_spec(tmp_path / "m.toml"))


def test_a_resnet_written_by_hand_in_toml(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('input_shape = [28, 28]\n'
                    '[[layers]]\ntype = "Conv2D"\nfilters = 16\nkernel_size = 3\npadding = "same"\n'
                    '[[layers]]\ntype = "BatchNormalization"\n[[layers]]\ntype = "Activation"\nactivation = "relu"\n'
                    '[[layers]]\ntype = "ResidualBlock"\nfilters = 16\n'
                    '[[layers]]\ntype = "residualblock"\nfilters = 32\nstrides = 2\n'
                    '[[layers]]\ntype = "Residual"\nactivation = "relu"\n'
                    '[[layers.branch]]\ntype = "Conv2D"\nfilters = 32\nkernel_size = 3\npadding = "same"\n'
                    '[[layers]]\ntype = "GlobalAveragePooling2D"\n'
                    '[[layers]]\ntype = "Dense"\nunits = 10\nactivation = "softmax"\n')
    spec = load_model_spec(path)
    assert isinstance(spec.layers[4], ResidualBlock) and spec.layers[4].strides == (2, 2)
    assert spec.layers[5] == Residual((Conv2D(32, 3, padding="same"),), activation="relu")
    assert spec.shapes()[3:6] == [(28, 28, 16), (14, 14, 32), (14, 14, 32)]
    assert keras_names(spec)[3:6] == ["residual_block", "residual_block_1", "add_2"]


def test_v1_and_v2_put_batch_norm_after_and_before_the_activation():
    v1 = ResidualBlock(8).expand((14, 14, 8))
    assert v1 == (Residual((Conv2D(8, 3, padding="same", kernel_initializer="he_normal"), BatchNormalization(),
                            Activation("relu"), Conv2D(8, 3, padding="same", kernel_initializer="he_normal"),
                            BatchNormalization()), (), activation="relu"),)
    v2 = ResidualBlock(8, preactivation=True).expand((14, 14, 8))
    assert [layer.type for layer in v2[0].branch] == ["BatchNormalization", "Activation", "Conv2D",
                                                      "BatchNormalization", "Activation", "Conv2D"]
    assert v2[0].shortcut == () and v2[0].activation == "linear"
    # a shape change: v1 projects with Conv 1x1 + BN; v2 pre-activates both paths, projection without BN
    v1p = ResidualBlock(16, strides=2).expand((14, 14, 8))[0]
    assert [(x.type, getattr(x, "kernel_size", None)) for x in v1p.shortcut] == [("Conv2D", (1, 1)),
                                                                               ("BatchNormalization", None)]
    v2p = ResidualBlock(16, strides=2, preactivation=True).expand((14, 14, 8))
    assert [x.type for x in v2p] == ["BatchNormalization", "Activation", "Residual"]
    assert [x.type for x in v2p[2].shortcut] == ["Conv2D"] and v2p[2].branch[0].strides == (2, 2)
    no_bn = ResidualBlock(8, batch_norm=False).expand((14, 14, 8))[0]
    assert [x.type for x in no_bn.branch] == ["Conv2D", "Activation", "Conv2D"]


def _bn(module, x):
    return F.batch_norm(x, module.running_mean, module.running_var, module.weight, module.bias, False, 0.0, module.eps)


@pytest.mark.parametrize("preactivation", [False, True])
def test_the_built_block_computes_the_papers_formula(preactivation):
    """A block with a projection, in eval mode, against the formula written with torch's functions."""
    spec = ModelSpec(layers=(ResidualBlock(6, strides=2, preactivation=preactivation), Flatten(), Dense(3)),
                     input_shape=(9, 9, 4))
    model = build_model(spec, seed=3).eval()
    with torch.no_grad():  # give the BNs statistics and affine weights of their own
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.uniform_(0.5, 2)
                m.bias.uniform_(-1, 1)
    x = torch.rand(5, 4, 9, 9)
    block = model[0]
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)]

    def conv(i, t):  # TF "same" padding of the 3x3 strided conv on 9x9: one pixel each side
        return F.conv2d(t, convs[i].weight, convs[i].bias, convs[i].stride, 1 if convs[i].kernel_size[0] == 3 else 0)

    if preactivation:  # He et al. 2016b: x' = relu(bn(x)); conv(relu(bn(conv(x')))) + proj(x')
        pre = F.relu(_bn(bns[0], x))
        expected = conv(1, F.relu(_bn(bns[1], conv(0, pre)))) + conv(2, pre)
    else:              # He et al. 2016: relu(bn(conv(relu(bn(conv(x))))) + bn(proj(x)))
        expected = F.relu(_bn(bns[1], conv(1, F.relu(_bn(bns[0], conv(0, x))))) + _bn(bns[2], conv(2, x)))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ bad input: one line, before training
@pytest.mark.parametrize("layer, needles", [
    ({"type": "ResidualBlock", "filters": 0}, ["layers[1] (ResidualBlock): filters must be at least 1, got 0"]),
    ({"type": "ResidualBlock", "filters": 32, "strides": 2, "projection": "never"},
     ['layers[1] (ResidualBlock): projection = "never"', "16x16x8 into 8x8x32", 'projection = "auto"']),
    ({"type": "ResidualBlock", "filters": 8, "projection": "sometimes"}, ['unknown projection "sometimes"']),
    ({"type": "ResidualBlock", "filters": 8, "pre_activation": True}, ['did you mean "preactivation"']),
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 16, "kernel_size": 3, "strides": 2,
                                      "padding": "same"}]},
     ["layers[1] (Residual): Add of mismatched shapes: the branch gives 8x8x16 but the identity shortcut gives "
      "16x16x8", "Conv2D 16 1x1 with strides 2"]),
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 16, "kernel_size": 3}]},  # helper-125: "strides 2"
     ["the branch gives 14x14x16 but the identity shortcut gives 16x16x8; branch[0]'s padding = \"valid\" shrinks "
      "the map: give the branch's layers padding = \"same\""]),
    ({"type": "Residual", "branch": [{"type": "MaxPooling2D", "pool_size": 3, "strides": 1}]},  # helper-126: no hint
     ["the branch gives 14x14x8 but the identity shortcut gives 16x16x8; branch[0]'s padding = \"valid\""]),
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2}]},
     ["the branch gives 7x7x8 but the identity shortcut gives 16x16x8; branch[0]'s padding"]),  # strides 3: 6x6
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 3,
                                      "padding": "same"}]},
     ["the branch gives 6x6x8 but the identity shortcut gives 16x16x8; give the shortcut a projection, e.g. Conv2D 8 "
      "1x1 with strides 3 and padding same"]),
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 8, "kernel_size": 3}],
      "shortcut": [{"type": "Conv2D", "filters": 8, "kernel_size": 1}]},
     ["Add of mismatched shapes: the branch gives 14x14x8 but the shortcut gives 16x16x8"]),
    ({"type": "Residual", "branch": []}, ["layers[1] (Residual): branch needs at least one layer"]),
    ({"type": "Residual", "branch": [{"type": "ResidualBlock", "filters": 8}]},
     ["branch[0] (ResidualBlock): a residual branch holds plain layers"]),
    ({"type": "Residual", "branch": [{"type": "Conv2D", "filters": 8}]},
     ["layers[1] (Residual): branch[0] (Conv2D): missing 'kernel_size'"]),
])
def test_bad_blocks_are_one_line_spec_errors(layer, needles, tmp_path, capsys):
    layers = [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"}, layer,
              {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 10}]
    with pytest.raises(SpecError) as info:
        parse_model_spec({"input_shape": [16, 16, 1], "layers": layers})
    message = str(info.value)
    assert "\n" not in message and info.value.path[:2] == ("layers", 1), message
    for needle in needles:
        assert needle in message, message
    # the CLI, before any training: the message, exit code 2... not a traceback
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_shape": [16, 16, 1], "layers": layers}))
    code = main(["train", "--model", str(path), "--epochs", "1", "--subset", "64"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and needles[0] in err, err


def test_a_block_needs_a_feature_map():
    with pytest.raises(SpecError, match=r"layers\[1\] \(ResidualBlock\): needs an \(H, W, C\) feature map"):
        ModelSpec(layers=(Flatten(), ResidualBlock(8), Dense(10)))


# ------------------------------------------------------------------ training, committees, export
def test_a_resnet_trains_a_few_steps_on_real_images(data_dir):
    """resnet20 on 16 real MNIST images: shapes, and the loss falls over 4 adam steps in train mode."""
    ds = load_dataset("mnist", data_dir)
    x = torch.from_numpy(np.array(ds.train_images[:16], dtype=np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(np.array(ds.train_labels[:16], dtype=np.int64))
    model = build_model("resnet20", seed=0).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert logits.shape == (16, 10) and all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses
    bn = model.residual_block.add.branch.batch_normalization_1
    assert bn.running_mean.abs().sum() > 0  # BN in a block updates its moving statistics


def test_committee_members_with_batch_norm_in_blocks_are_refused():
    cfgs = [parse_run_config({"dataset": "mnist", "model": "resnet20", "train": {"seed": s}}) for s in (0, 1)]
    assert "BatchNormalization" in batch_refusal(cfgs)
    no_bn = {"input_shape": [28, 28, 1], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"type": "ResidualBlock", "filters": 4, "batch_norm": False}, {"type": "GlobalAveragePooling2D"},
        {"type": "Dense", "units": 10, "activation": "softmax"}]}
    cfgs = [parse_run_config({"dataset": "mnist", "model": no_bn, "train": {"seed": s}}) for s in (0, 1)]
    assert batch_refusal(cfgs) is None


@pytest.fixture(scope="module")
def trained_resnet(data_dir, tmp_path_factory):
    """resnet20-v2 after one epoch on 64 MNIST images, recorded in a store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        return train("mnist", "resnet20-v2", epochs=1, data_dir=data_dir, progress="none", subset=64, batch_size=32,
                     store=tmp_path_factory.mktemp("resnet-store"))


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_a_trained_resnet_exports(trained_resnet, data_dir, tmp_path, fmt, suffix):
    run = trained_resnet
    assert run.status == "finished" and run.metrics["params"] == 274_154 and len(run.history) == 1
    out = tmp_path / f"resnet{suffix}"
    assert export_model(run, out, verify=False) is None and out.stat().st_size > 1_000_000
    images = np.asarray(load_dataset("mnist", data_dir).test_images[:40])
    check = verify_file(out, fmt, run.model.float().cpu().eval(), "mnist", images=images, batch=20)
    assert check.passed and check.images == 40


def test_training_memory_counts_the_blocks_layers():
    est = training_memory("resnet20", "adam", 32)
    assert est.params == 274_538 and est.weights == 4 * 274_538
    assert est.activations > training_memory("seed000-cnn", "adam", 32).activations
