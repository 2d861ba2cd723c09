"""Keras's DepthwiseConv2D, SeparableConv2D, SpatialDropout2D, GaussianNoise and GaussianDropout:
what each computes, against Keras 3's outputs recorded by bench/keras_depthwise.py (Keras is not a
test dependency), and each trained end to end through the CLI on real images."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.cli import main as cli_main
from mnistlab.models import build_model, regularization_loss
from mnistlab.specs import (Conv2D, Dense, DepthwiseConv2D, Flatten, GaussianDropout, GaussianNoise, GlobalAveragePooling2D,
                            ModelSpec, SeparableConv2D, SpatialDropout2D, layer_from_dict, weight_penalties)

RECORDED = json.loads((Path(__file__).parent / "data" / "keras_depthwise.json").read_text())


def _keras_case(name: str) -> tuple[torch.nn.Module, torch.Tensor, np.ndarray]:
    """The recorded layer rebuilt in mnistlab (its first module) with Keras's weights, Keras's input as
    (N, C, H, W), and Keras's output (N, H, W, C)."""
    case, x = RECORDED["cases"][name], np.asarray(RECORDED["input"], dtype=np.float32)
    table = {"type": "DepthwiseConv2D" if name == "depthwise" else "SeparableConv2D", **case["config"]}
    spec = ModelSpec(layers=(layer_from_dict(table), Flatten(), Dense(2)), input_shape=x.shape[1:])
    module = build_model(spec, seed=0)[0]
    weights = [torch.tensor(w) for w in case["weights"].values()]
    with torch.no_grad():
        depthwise = weights[0]  # Keras's (kh, kw, C, m) -> torch's (C * m, 1, kh, kw)
        kh, kw, c, m = depthwise.shape
        torch_depthwise = depthwise.permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
        if name == "depthwise":
            module.weight.copy_(torch_depthwise)
        else:
            module.depthwise_weight.copy_(torch_depthwise)
            module.pointwise_weight.copy_(weights[1].permute(3, 2, 0, 1))  # (1, 1, C * m, F) -> (F, C * m, 1, 1)
        module.bias.copy_(weights[-1])
    return module.eval(), torch.from_numpy(x).permute(0, 3, 1, 2), np.asarray(case["output"], dtype=np.float32)


@pytest.mark.parametrize("name", ["depthwise", "separable"])
def test_depthwise_and_separable_convolutions_compute_what_keras_computes(name):
    """Strides 2 and "same" padding on a 7x6 map (TF pads the extra row and column bottom and right),
    depth_multiplier 2 (output channel c * 2 + m from input channel c, TF's order), tanh, a bias."""
    module, x, keras_out = _keras_case(name)
    with torch.no_grad():
        out = module(x).permute(0, 2, 3, 1).numpy()
    assert out.shape == keras_out.shape
    np.testing.assert_allclose(out, keras_out, atol=2e-6)


def test_depthwise_kernels_start_with_the_spread_keras_draws():
    """glorot_uniform over Keras's kernel shapes: a depthwise kernel's fans are kh * kw * C in and
    kh * kw * m out (torch's own fans of its (C * m, 1, kh, kw) weight would be kh * kw and kh * kw * C * m)."""
    spread = RECORDED["glorot_uniform_std"]
    depthwise = build_model(ModelSpec(layers=(DepthwiseConv2D(5, depth_multiplier=8), Flatten(), Dense(2)),
                                      input_shape=(12, 12, 64)), seed=1)[0]
    separable = build_model(ModelSpec(layers=(SeparableConv2D(256, 3, depth_multiplier=4), Flatten(), Dense(2)),
                                      input_shape=(12, 12, 32)), seed=1)[0]
    assert float(depthwise.weight.detach().std()) == pytest.approx(spread["depthwise_kernel"], rel=0.04)
    assert float(separable.depthwise_weight.detach().std()) == pytest.approx(spread["separable_depthwise_kernel"], rel=0.04)
    assert float(separable.pointwise_weight.detach().std()) == pytest.approx(spread["separable_pointwise_kernel"], rel=0.04)
    assert not depthwise.bias.detach().any() and not separable.bias.detach().any()


def test_each_kernel_of_a_separable_convolution_has_its_own_penalty():
    spec = ModelSpec(layers=(SeparableConv2D(4, 3, depthwise_regularizer={"l1": 0.5}, pointwise_regularizer="l2",
                                             bias_regularizer={"l2": 2.0}),
                             DepthwiseConv2D(3, depthwise_regularizer={"l2": 0.25}), Flatten(), Dense(10)),
                     input_shape=(12, 12, 2))
    model = build_model(spec, seed=0)
    with torch.no_grad():
        model[0].bias.fill_(0.5)
    separable, depthwise = model[0], model[1]
    expected = (0.5 * separable.depthwise_weight.abs().sum() + 0.01 * separable.pointwise_weight.square().sum()
                + 2.0 * separable.bias.square().sum() + 0.25 * depthwise.weight.square().sum())
    assert float(regularization_loss(model).detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert weight_penalties(spec) == ("separable_conv2d depthwise L1(l1=0.5)", "separable_conv2d pointwise L2(l2=0.01)",
                                      "separable_conv2d bias L2(l2=2)", "depthwise_conv2d depthwise L2(l2=0.25)")


def test_spatial_dropout_drops_whole_channels_and_scales_the_rest():
    """Keras's noise shape (batch, 1, 1, channels): each image's channel all zero or all 1 / (1 - rate)."""
    model = build_model(ModelSpec(layers=(SpatialDropout2D(0.25), Flatten(), Dense(2)), input_shape=(5, 5, 64)), seed=0)
    torch.manual_seed(0)
    out = model[0].train()(torch.ones(8, 64, 5, 5))
    per_channel = out.flatten(2)
    assert torch.all(per_channel.amin(-1) == per_channel.amax(-1))  # a channel is dropped whole or kept whole
    values = sorted(per_channel[..., 0].unique().tolist())
    assert values == [0.0, pytest.approx(1 / 0.75)]
    assert 0.15 < float((per_channel[..., 0] == 0).float().mean()) < 0.35
    assert torch.equal(model[0].eval()(torch.ones(2, 64, 5, 5)), torch.ones(2, 64, 5, 5))


@pytest.mark.parametrize("layer, mean, std", [
    (GaussianNoise(0.3), 1.0, 0.3),                              # x + N(0, stddev)
    (GaussianDropout(0.2), 1.0, math.sqrt(0.2 / 0.8)),           # x * N(1, sqrt(rate / (1 - rate)))
])
def test_gaussian_layers_draw_keras_noise_in_training_only(layer, mean, std):
    model = build_model(ModelSpec(layers=(Flatten(), layer, Dense(2))), seed=0)
    noisy = model[1]
    torch.manual_seed(0)
    out = noisy.train()(torch.ones(200, 784))
    assert float(out.mean()) == pytest.approx(mean, abs=0.01) and float(out.std()) == pytest.approx(std, rel=0.02)
    assert torch.equal(noisy.eval()(torch.ones(3, 784)), torch.ones(3, 784))


@pytest.mark.parametrize("table, said", [
    ({"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 0}, "depth_multiplier must be"),
    ({"type": "DepthwiseConv2D", "kernel_size": 3, "filters": 8}, "unknown key 'filters'"),
    ({"type": "SeparableConv2D", "kernel_size": 3}, "filters"),
    ({"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "pointwise_initializer": "he_normall"},
     'unknown pointwise_initializer "he_normall"'),
    ({"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "depthwise_initializer": "truncated_normal"},
     "depthwise_initializer \"truncated_normal\" is one of Keras's that mnistlab does not build"),
    ({"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "pointwise_regularizer": "l3"},
     'pointwise_regularizer: unknown regularizer "l3"'),
    ({"type": "SpatialDropout2D", "rate": 1.5}, "rate must be in [0, 1]"),
    ({"type": "GaussianDropout", "rate": 1.0}, "rate must be in [0, 1)"),  # Keras takes it, then divides by zero
    ({"type": "GaussianNoise", "stddev": 1.5}, "stddev must be in [0, 1]"),
    ({"type": "GaussianNoise"}, "stddev"),
    ({"type": "GaussianDropout", "rate": -0.1}, "rate must be in [0, 1)"),
])
def test_a_wrong_setting_of_the_new_layers_is_one_line(table, said):
    from mnistlab.errors import SpecError

    with pytest.raises(SpecError) as info:
        layer_from_dict(table)
    assert said in str(info.value) and "\n" not in str(info.value)


def test_a_spatial_dropout_or_depthwise_convolution_after_flatten_is_refused_as_keras_refuses_it():
    from mnistlab.errors import SpecError

    for layer in (SpatialDropout2D(0.2), DepthwiseConv2D(3), SeparableConv2D(4, 3)):
        with pytest.raises(SpecError, match="needs an \\(H, W, C\\) feature map"):
            ModelSpec(layers=(Flatten(), layer, Dense(10)))


def test_a_mobilenet_style_model_trains_through_the_cli_and_its_summary_counts_keras_weights(tmp_path, data_dir, capsys):
    spec = tmp_path / "mobile.toml"
    spec.write_text('''input_shape = [28, 28, 1]
layers = [
  { type = "GaussianNoise", stddev = 0.05 },
  { type = "Conv2D", filters = 16, kernel_size = 3, strides = 2, padding = "same", activation = "relu" },
  { type = "DepthwiseConv2D", kernel_size = 3, padding = "same", activation = "relu" },
  { type = "SpatialDropout2D", rate = 0.1 },
  { type = "SeparableConv2D", filters = 32, kernel_size = 3, strides = 2, padding = "same", activation = "relu" },
  "GlobalAveragePooling2D",
  { type = "GaussianDropout", rate = 0.1 },
  { type = "Dense", units = 10, activation = "softmax" },
]
''')
    assert cli_main(["summary", str(spec)]) == 0
    out = capsys.readouterr().out
    # Conv2D 16*9+16 = 160; DepthwiseConv2D 16*9+16 = 160; SeparableConv2D 16*9 + 16*32 + 32 = 688; Dense 330
    assert "depthwise_conv2d (DepthwiseConv2D)" in out and "separable_conv2d (SeparableConv2D)" in out
    assert "Total params: 1,338" in out
    code = cli_main(["train", "--dataset", "mnist", "--model", str(spec), "--epochs", "3", "--subset", "3000",
                     "--lr", "0.01", "--data-dir", str(data_dir), "--progress", "none"])
    out = capsys.readouterr().out
    assert code == 0, out
    accuracy = float(re.search(r"test_accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.25 and "finished" in out  # it learns (chance: 0.10)


def test_the_new_layers_keep_their_settings_through_a_saved_config():
    spec = ModelSpec(layers=(GaussianNoise(0.1), Conv2D(4, 3), DepthwiseConv2D(3, depth_multiplier=2, use_bias=False),
                             SeparableConv2D(8, 3, strides=2, pointwise_initializer="he_normal"), SpatialDropout2D(0.3),
                             GlobalAveragePooling2D(), GaussianDropout(0.2), Dense(10)))
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.shapes() == spec.shapes()


def test_noise_after_the_softmax_leaves_it_the_output_and_separable_models_train_as_convolutions(data_dir):
    import torch

    from mnistlab.accel import plan
    from mnistlab.specs import output_activation

    spec = ModelSpec(layers=(Flatten(), Dense(10, activation="softmax"), GaussianNoise(0.1), GaussianDropout(0.1)))
    assert output_activation(spec) == (1, "softmax")  # folded into the logits, as after a Dropout
    separable = build_model(ModelSpec(layers=(SeparableConv2D(4, 3), Flatten(), Dense(10))), seed=0)
    assert plan(separable, precision="auto").channels_last  # a convolution's layout, as a Conv2D model's
    assert torch.is_tensor(separable[0].depthwise_weight)


def test_numpy_numbers_build_layers_as_keras_takes_them_and_filters_show_a_separable_kernel(tmp_path):
    """helper-257: np.int64 depth multipliers and np.float32 rates were "no integer" / "no number"; `plot filters`
    of a model of separable convolutions said it had no convolution."""
    import numpy as np

    from mnistlab.plots import plot_filters

    layer = DepthwiseConv2D(np.int32(3), depth_multiplier=np.int64(2))
    assert layer.depth_multiplier == 2 and type(layer.depth_multiplier) is int and layer.kernel_size == (3, 3)
    assert SpatialDropout2D(np.float32(0.25)).rate == pytest.approx(0.25)
    assert json.loads(json.dumps(layer.to_dict()))["depth_multiplier"] == 2
    shaped = ModelSpec(layers=(Flatten(), Dense(np.int64(10))), input_shape=(np.int64(28), np.int64(28), np.int64(1)))
    assert json.loads(json.dumps(shaped.to_dict()))["input_shape"] == [28, 28, 1]  # (a spec is JSON: ints, not NumPy's)
    from mnistlab.errors import SpecError

    with pytest.raises(SpecError, match="must be an integer"):
        DepthwiseConv2D(3, depth_multiplier=np.bool_(True))
    model = build_model(ModelSpec(layers=(SeparableConv2D(8, 3, depth_multiplier=3, name="sep_a"), Flatten(), Dense(10))),
                        seed=0)
    fig = plot_filters(model)
    assert fig.texts[0].get_text().startswith("First-layer filters of sep_a (3 x 3x3)")
    layer_from_dict({"type": "SeparableConv2D", "filters": 4, "kernel_size": 3, "bias_initializer": "zeros"})


def test_keras_default_dilation_and_groups_read_in_a_spec_as_in_a_keras_json():
    """helper-257: `dilation_rate = 1` and `groups = 1` were unknown keys in a spec, taken in a Keras JSON."""
    from mnistlab.errors import SpecError

    plain = layer_from_dict({"type": "Conv2D", "filters": 2, "kernel_size": 3})
    assert layer_from_dict({"type": "Conv2D", "filters": 2, "kernel_size": 3, "dilation_rate": [1, 1], "groups": 1}) == plain
    assert layer_from_dict({"type": "SeparableConv2D", "filters": 2, "kernel_size": 3, "dilation_rate": 1}).filters == 2
    with pytest.raises(SpecError, match=r"dilation_rate = 2 is a setting mnistlab does not build \(only 1\)"):
        layer_from_dict({"type": "DepthwiseConv2D", "kernel_size": 3, "dilation_rate": 2})
    with pytest.raises(SpecError, match="unknown key 'groups'"):  # (Keras's DepthwiseConv2D has none either)
        layer_from_dict({"type": "DepthwiseConv2D", "kernel_size": 3, "groups": 1})


def test_a_variant_changing_a_layers_type_is_told_to_replace_it_whole(tmp_path):
    from mnistlab.errors import SpecError
    from mnistlab.experiments import load_experiment

    (tmp_path / "e.toml").write_text('name = "dt"\n[base]\ndataset = "mnist"\nmodel = { layers = [{ type = "Conv2D", '
                                     'filters = 8, kernel_size = 3 }, "Flatten", { type = "Dense", units = 10 }] }\n'
                                     '[[variants]]\nname = "sep"\n"model.layers[0].type" = "SeparableConv2D"\n'
                                     '"model.layers[0].depth_multiplier" = 2\n')
    with pytest.raises(SpecError, match=r'replace the layer whole, "model.layers\[0\]" = \{ type = \.\.\., \.\.\. \}'):
        load_experiment(tmp_path / "e.toml")


def test_a_dropout_of_rate_1_builds_as_keras_builds_it_zeroing_everything_in_training_with_a_warning():
    # Keras 3's Dropout and SpatialDropout2D take rate = 1 and output zeros in training (note 58: refused here).
    import torch

    from mnistlab.errors import SpecWarning
    from mnistlab.models import build_model
    from mnistlab.specs import Conv2D, Dense, Dropout, Flatten, ModelSpec, SpatialDropout2D, spec_warnings

    spec = ModelSpec(layers=(Conv2D(4, 3), SpatialDropout2D(1), Flatten(), Dropout(1.0), Dense(10)), input_shape=(8, 8, 1))
    said = spec_warnings(spec)
    assert [line.split(":")[0] for line in said] == ["layers[1] (SpatialDropout2D)", "layers[3] (Dropout)"]
    assert all("rate = 1 zeroes every activation" in line for line in said)
    with pytest.warns(SpecWarning, match="rate = 1"):
        model = build_model(spec, seed=0)
    x = torch.rand(2, 1, 8, 8)
    assert torch.count_nonzero(model[1](model[0](x))) == 0  # training: every channel dropped, no NaN
    model.eval()
    assert torch.count_nonzero(model[1](model[0](x))) > 0  # inference: the identity


@pytest.mark.parametrize("kind, setting", [("Dropout", {"rate": 0.2}), ("SpatialDropout2D", {"rate": 0.2}),
                                           ("GaussianNoise", {"stddev": 0.1}), ("GaussianDropout", {"rate": 0.2})])
def test_a_noise_layers_keras_seed_is_taken_as_a_keras_json_takes_it_and_a_wrong_one_is_one_line(kind, setting):
    # Keras writes Dropout(0.2, seed=3); a spec refused it (note 58) where a Keras JSON's was taken.
    from mnistlab.errors import SpecError

    from mnistlab.errors import SpecWarning

    with pytest.warns(SpecWarning, match=r"seed = 3: the run's seed draws this layer's noise"):  # (helper-262: unsaid)
        assert layer_from_dict({"type": kind, **setting, "seed": 3}) == layer_from_dict({"type": kind, **setting})
    assert layer_from_dict({"type": kind, **setting, "seed": None}) == layer_from_dict({"type": kind, **setting})
    for wrong in ("3", -1, 2.5, True):
        with pytest.raises(SpecError, match=r"seed = .*whole number") as info:
            layer_from_dict({"type": kind, **setting, "seed": wrong}, where="layers[1]")
        assert "\n" not in str(info.value) and str(info.value).startswith(f"layers[1] ({kind})")
