"""Building models from specs: Keras semantics (shapes, activations, initialisers, counts), seeding, summary."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.datasets import load_dataset
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.models import (ACTIVATION_MODULES, INITIALIZER_FUNCTIONS, adapt_normalization, build_model, count_parameters,
                             layer_outputs, num_classes)
from mnistlab.summary import format_summary, summarize
from mnistlab.specs import parse_model_spec
from mnistlab.specs import (
    ACTIVATIONS, INITIALIZERS, Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
    LAYER_TYPES, DepthwiseConv2D, GaussianDropout, GaussianNoise, GlobalAveragePooling2D, MaxPooling2D, ModelSpec,
    Normalization, SeparableConv2D, SpatialDropout2D, ZeroPadding2D, compact_spec,
)

torch.set_num_threads(1)

CNN = compact_spec([8, 8], [True, True], [16])


def _quiet_build(spec, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        return build_model(spec, **kw)


def test_registries_cover_every_name():
    assert set(ACTIVATION_MODULES) == set(ACTIVATIONS)
    assert set(INITIALIZER_FUNCTIONS) == set(INITIALIZERS)


def test_softmax_output_is_folded_into_logits():
    model = build_model(CNN, seed=0).eval()
    assert model.folded_softmax
    out = model(torch.rand(4, 1, 28, 28))
    assert out.shape == (4, 10)
    assert not torch.allclose(out.sum(1), torch.ones(4))  # logits, not probabilities
    # a softmax written as a separate final Activation layer is folded the same way
    spec = ModelSpec(layers=(Flatten(), Dense(10), Activation("softmax")))
    assert build_model(spec, seed=0).folded_softmax


def test_other_output_activations_are_kept_and_warned_about():
    spec = ModelSpec(layers=(Flatten(), Dense(10, activation="tanh")))
    with pytest.warns(SpecWarning, match="tanh"):
        model = build_model(spec, seed=0)
    assert model.folded_activation is None and not model.folded_softmax
    out = model(torch.rand(3, 1, 28, 28))
    assert bool(((out > -1) & (out < 1)).all())


def test_sigmoid_output_trains_on_its_logits_as_keras_does():
    # Keras's cross-entropy reads the logits behind a sigmoid output (seed 003's first-epoch loss,
    # 0.57, is below the 1.46 floor of a softmax taken over sigmoid outputs).
    sigmoid = ModelSpec(layers=(Flatten(), Dense(10, activation="sigmoid")))
    linear = ModelSpec(layers=(Flatten(), Dense(10)))
    with pytest.warns(SpecWarning, match="pre-sigmoid logits"):
        model = build_model(sigmoid, seed=0)
    assert model.folded_activation == "sigmoid" and not model.folded_softmax
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model(x), build_model(linear, seed=0)(x))


def test_same_seed_same_weights_and_global_rng_untouched():
    state = torch.get_rng_state()
    a, b = build_model(CNN, seed=7), build_model(CNN, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    c = build_model(CNN, seed=8)
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
        if name.endswith("weight"):
            assert not torch.equal(pa, pc), name


def test_seed_none_follows_torch_manual_seed():
    torch.manual_seed(3)
    a = build_model(CNN)
    torch.manual_seed(3)
    b = build_model(CNN)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def _kernel(init: str, conv: bool) -> tuple[torch.Tensor, int, int]:
    """A built kernel in Keras layout with its Keras fans."""
    if conv:
        spec = ModelSpec(layers=(Conv2D(64, 3, kernel_initializer=init), Flatten(), Dense(10)),
                         input_shape=(8, 8, 32))
        w = build_model(spec, seed=1)[0].weight.detach().permute(2, 3, 1, 0)  # (kh, kw, in, out)
        return w, 9 * 32, 9 * 64
    spec = ModelSpec(layers=(Flatten(), Dense(300, kernel_initializer=init), Dense(10)))
    w = build_model(spec, seed=1)[1].weight.detach().T  # (in, out)
    return w, 784, 300


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
@pytest.mark.parametrize("init", INITIALIZERS)
def test_initializers_follow_keras(init, conv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        w, fan_in, fan_out = _kernel(init, conv)
    std, peak = w.std().item(), w.abs().max().item()
    if init in ("glorot_uniform", "he_uniform"):
        limit = math.sqrt(6 / (fan_in + fan_out)) if init == "glorot_uniform" else math.sqrt(6 / fan_in)
        assert peak <= limit and peak > 0.98 * limit
        assert std == pytest.approx(limit / math.sqrt(3), rel=0.05)
    elif init in ("glorot_normal", "he_normal", "lecun_normal"):
        n = {"glorot_normal": (fan_in + fan_out) / 2, "he_normal": fan_in / 2, "lecun_normal": fan_in}[init]
        target = math.sqrt(1 / n)  # Keras rescales the truncated normal so the final std is exactly this
        assert std == pytest.approx(target, rel=0.05)
        assert peak <= 2 * target / 0.87962566103423978 + 1e-6
    elif init == "random_normal":
        assert std == pytest.approx(0.05, rel=0.05)
    elif init == "random_uniform":
        assert peak <= 0.05 and std == pytest.approx(0.05 / math.sqrt(3), rel=0.05)
    elif init in ("zeros", "ones"):
        assert torch.equal(w, torch.full_like(w, 0.0 if init == "zeros" else 1.0))
    elif init == "orthogonal":
        flat = w.reshape(-1, w.shape[-1]).double()  # Keras flattens all but the last (output) axis
        gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        assert torch.allclose(gram, torch.eye(gram.shape[0], dtype=torch.float64), atol=1e-5)
    else:  # a new initializer must get a check here
        pytest.fail(f"no check for {init}")


def test_biases_start_at_zero_and_batchnorm_at_identity():
    spec = ModelSpec(layers=(Conv2D(4, 3), BatchNormalization(), Flatten(), Dense(10, kernel_initializer="ones")))
    model = _quiet_build(spec, seed=0)
    assert torch.equal(model[0].bias, torch.zeros(4)) and torch.equal(model[3].bias, torch.zeros(10))
    bn = model[1]
    assert torch.equal(bn.weight, torch.ones(4)) and torch.equal(bn.bias, torch.zeros(4))
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)  # Keras 0.99 / 1e-3


REFERENCE = {  # each activation written out independently of the registry
    "linear": lambda x: x,
    "relu": lambda x: x.clamp(min=0),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.2 * x),
    "elu": lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
    "selu": lambda x: 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1)),
    "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(2 * x) - 1) / (torch.exp(2 * x) + 1),
    "softmax": lambda x: torch.exp(x) / torch.exp(x).sum(1, keepdim=True),
    "swish": lambda x: x / (1 + torch.exp(-x)),
    "relu6": lambda x: x.clamp(0, 6),
    "hard_sigmoid": lambda x: (x / 6 + 0.5).clamp(0, 1),
    "hard_silu": lambda x: x * (x / 6 + 0.5).clamp(0, 1),
    "softplus": lambda x: torch.log(1 + torch.exp(x)),
    "softsign": lambda x: x / (1 + x.abs()),
    "mish": lambda x: x * torch.tanh(torch.log(1 + torch.exp(x))),
    "exponential": lambda x: torch.exp(x),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations(name):
    spec = ModelSpec(layers=(Flatten(), Activation(name), Dense(10)), input_shape=(2, 3, 1))
    model = _quiet_build(spec, seed=0)
    x = torch.linspace(-3, 3, 12).reshape(2, 6)
    torch.testing.assert_close(model[1](x), REFERENCE[name](x), atol=1e-5, rtol=1e-5)


KERAS_ACTIVATIONS = json.loads((Path(__file__).parent / "data" / "keras_activations.json").read_text())


@pytest.mark.parametrize("name", sorted(KERAS_ACTIVATIONS["outputs"]))
def test_each_activation_computes_what_keras_3_recorded(name):
    # bench/keras_activations.py: keras.activations.get(name) on a grid from -30 to 30 and the hard
    # functions' corners; Keras's other spellings (silu, hard_swish) build the same function.
    x = torch.tensor(KERAS_ACTIVATIONS["x"])
    spec = ModelSpec(layers=(Flatten(), Activation(name), Dense(10)), input_shape=(3, 11, 1))
    got = _quiet_build(spec, seed=0)[1](x)
    torch.testing.assert_close(got, torch.tensor(KERAS_ACTIVATIONS["outputs"][name]), atol=1e-6, rtol=2e-6)


def test_a_keras_relu_layer_capped_at_6_is_relu6_as_keras_counts_and_computes_it():
    recorded = KERAS_ACTIVATIONS["relu6_model"]
    spec = parse_model_spec(recorded["json"])
    assert [layer.activation for layer in spec.layers if isinstance(layer, Activation)] == ["relu6"]
    model = _quiet_build(spec, seed=0)
    assert sum(count_parameters(model)) == recorded["params"]
    relu6 = next(m for m in model.modules() if isinstance(m, torch.nn.ReLU6))
    assert relu6(torch.tensor([-1.0, 3.0, 7.0])).tolist() == [0.0, 3.0, 6.0]


CONFIGS = [  # (layers, input_shape): every padding/stride path incl. asymmetric TF "same" padding
    ((Conv2D(3, 3, padding="same"),), (7, 7, 2)),
    ((Conv2D(3, 2, padding="same"),), (7, 7, 2)),
    ((Conv2D(3, (3, 2), strides=2, padding="same"),), (7, 6, 2)),
    ((Conv2D(3, 5, strides=(2, 3)),), (11, 13, 1)),
    ((MaxPooling2D(2, padding="same"),), (7, 7, 2)),
    ((MaxPooling2D(3, strides=2, padding="same"),), (8, 8, 2)),
    ((MaxPooling2D(3, strides=1),), (6, 6, 2)),
    ((AveragePooling2D(2, padding="same"),), (5, 5, 2)),
    ((AveragePooling2D((3, 2), strides=(1, 2)),), (6, 6, 2)),
    ((BatchNormalization(), GlobalAveragePooling2D()), (6, 6, 3)),
]


@pytest.mark.parametrize("layers, input_shape", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_module_shapes_match_shape_inference(layers, input_shape):
    head = () if isinstance(layers[-1], GlobalAveragePooling2D) else (Flatten(),)
    spec = ModelSpec(layers=(*layers, *head, Dense(4)), input_shape=input_shape)
    model = build_model(spec, seed=0).eval()
    x = torch.rand(2, input_shape[2], *input_shape[:2])
    for module, shape in zip(model, spec.shapes()):
        x = module(x)
        expected = (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape
        assert tuple(x.shape[1:]) == expected, module


def test_same_pooling_never_counts_the_padding():
    x = -torch.rand(1, 1, 5, 5) - 1  # all values in [-2, -1): a zero from padding would show up
    spec = ModelSpec(layers=(MaxPooling2D(2, padding="same"), Flatten(), Dense(2)), input_shape=(5, 5, 1))
    assert float(build_model(spec, seed=0)[0](x).max()) < -1
    spec = ModelSpec(layers=(AveragePooling2D(2, padding="same"), Flatten(), Dense(2)), input_shape=(5, 5, 1))
    out = build_model(spec, seed=0)[0](torch.full((1, 1, 5, 5), 3.0))
    assert torch.allclose(out, torch.full_like(out, 3.0))  # Keras averages over real pixels only


def test_asymmetric_same_padding_puts_the_extra_pixel_bottom_right():
    # kernel 2, stride 1 on 3x3: TF pads 0 on top/left, 1 on bottom/right.
    spec = ModelSpec(layers=(Conv2D(1, 2, padding="same", kernel_initializer="ones"), Flatten(), Dense(2)),
                     input_shape=(3, 3, 1))
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    out = _quiet_build(spec, seed=0)[0](x)[0, 0]
    assert out[0, 0].item() == 0 + 1 + 3 + 4 and out[2, 2].item() == 8


def test_channels_last_input_gives_the_same_output():
    spec = ModelSpec(layers=(Conv2D(8, 3, activation="relu"), BatchNormalization(), MaxPooling2D(), Flatten(),
                             Dense(10, activation="softmax")))
    model = build_model(spec, seed=0).eval()
    x = torch.rand(4, 1, 28, 28)
    expected = model(x)
    model_cl = model.to(memory_format=torch.channels_last)
    torch.testing.assert_close(model_cl(x.to(memory_format=torch.channels_last)), expected)
    assert model(x[:, 0]).shape == (4, 10)  # (N, H, W) accepted for one channel


def test_summary_counts_match_the_built_model_and_keras_batchnorm():
    spec = ModelSpec(layers=(Conv2D(8, 3), BatchNormalization(), Activation("relu"), Flatten(), Dense(16),
                             BatchNormalization(), Dropout(0.1), Dense(10, activation="softmax")))
    summary = summarize(spec)
    trainable, frozen = count_parameters(build_model(spec, seed=0))
    assert (summary.trainable, summary.non_trainable) == (trainable, frozen)
    assert summary.rows[1].params == 4 * 8 and summary.rows[5].params == 4 * 16  # Keras: 4 weights per channel
    assert summary.non_trainable == 2 * 8 + 2 * 16
    assert summary.total == 80 + 32 + 26 * 26 * 8 * 16 + 16 + 64 + 170


def test_summary_flops_are_multiply_adds():
    s = summarize(ModelSpec(layers=(Conv2D(64, 3), MaxPooling2D(), Conv2D(64, 3), MaxPooling2D(), Flatten(),
                                    Dense(128), Dense(10))))
    assert s.flops == 26 * 26 * 64 * 9 + 11 * 11 * 64 * 9 * 64 + 1600 * 128 + 128 * 10


def test_format_summary_reads_like_keras():
    text = format_summary(summarize(CNN))
    lines = text.splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    conv1 = next(line for line in lines if "conv2d_1 (Conv2D)" in line)
    assert "(None, 11, 11, 8)" in conv1 and conv1.split()[-1] == str(9 * 8 * 8 + 8)
    assert "max_pooling2d_1 (MaxPooling2D)" in text and "flatten (Flatten)" in text
    assert f"Total params: {summarize(CNN).total:,}" in text
    assert "Non-trainable params: 0" in text and "multiply-adds per image" in text


def test_a_summary_of_layers_named_in_wide_characters_keeps_its_columns():
    """helper-184: a layer named "畳み込み" (each character two terminal cells) pushed its row's
    Output Shape four cells right of the others' (padded by characters, not cells)."""
    from rich.cells import cell_len

    from mnistlab.specs import ModelSpec

    spec = ModelSpec.from_dict({"layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "name": "畳み込み"}, "Flatten",
                                           {"type": "Dense", "units": 10, "name": "出力 😀", "activation": "softmax"}]})
    rows = [line for line in format_summary(summarize(spec)).splitlines() if "(None," in line]
    assert len(rows) == 3
    assert len({cell_len(line[:line.index("(None,")]) for line in rows}) == 1, rows  # the shapes start in one column


def test_num_classes():
    assert num_classes(CNN) == 10
    assert num_classes(ModelSpec(layers=(Flatten(), Dense(3)))) == 3


def test_built_model_learns_on_real_data(data_dir):
    """A few Adam steps on 512 real Fashion-MNIST images lower the loss: logits + cross-entropy work."""
    ds = load_dataset("fashion-mnist", data_dir, download=False)
    x = torch.from_numpy(np.asarray(ds.train_images[:512], dtype=np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(np.asarray(ds.train_labels[:512], dtype=np.int64))
    model = build_model(compact_spec([8], [True], [32]), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    with torch.no_grad():
        before = F.cross_entropy(model(x), y).item()
    for _ in range(3):
        for i in range(0, 512, 64):
            opt.zero_grad()
            F.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    with torch.no_grad():
        after = F.cross_entropy(model.eval()(x), y).item()
    assert before == pytest.approx(math.log(10), abs=0.5)  # Keras-style init starts near chance
    assert after < 0.8 * before


def test_layer_outputs_give_each_keras_layer_output():
    model = build_model(CNN, seed=0).eval()
    x = torch.rand(3, 1, 28, 28)
    outs = layer_outputs(model, x, upto=4)
    assert [tuple(o.shape) for o in outs] == [(3, 8, 26, 26), (3, 8, 13, 13), (3, 8, 11, 11), (3, 8, 5, 5)]
    assert bool((outs[0] >= 0).all())  # the conv output includes its relu, as in Keras
    torch.testing.assert_close(layer_outputs(model, x)[-1], model(x))
    assert [name for name, _ in model.named_children()][:4] == ["conv2d", "max_pooling2d", "conv2d_1",
                                                                "max_pooling2d_1"]


def test_weights_reload_into_a_model_rebuilt_from_the_saved_spec(tmp_path):
    """The store's path: spec dict + safetensors weights -> the same model, bit for bit."""
    import copy
    import pickle

    from safetensors.torch import load_file, save_file

    from mnistlab.specs import parse_model_spec

    spec = ModelSpec(layers=(Conv2D(4, 3, padding="same"), BatchNormalization(), MaxPooling2D(), Flatten(),
                             Dense(10, activation="softmax")))
    model = build_model(spec, seed=1)
    model.train()(torch.rand(8, 1, 28, 28))  # move the BatchNorm statistics away from their start
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    rebuilt = build_model(parse_model_spec(spec.to_dict()), seed=2)
    rebuilt.load_state_dict(load_file(tmp_path / "w.safetensors"))
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(rebuilt.eval()(x), model.eval()(x), rtol=0, atol=0)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.spec == spec and clone.folded_softmax
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------------- Normalization
def test_normalization_computes_what_keras_computes():
    # Keras: (x - mean) / max(sqrt(variance), epsilon()), epsilon 1e-7, per channel (axis=-1)
    spec = ModelSpec(layers=(Conv2D(3, 3), Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 0.0]),
                             Flatten(), Dense(2)), input_shape=(6, 6, 1))
    norm = build_model(spec, seed=0)[1]
    x = torch.randn(2, 3, 4, 4)
    expected = torch.stack([(x[:, 0] - 0.5) / 2.0, (x[:, 1] + 1.0) / 0.5, (x[:, 2] - 2.0) / 1e-7], 1)
    torch.testing.assert_close(norm(x), expected)
    torch.testing.assert_close(norm(x.to(memory_format=torch.channels_last)), expected)
    flat = build_model(ModelSpec(layers=(Flatten(), Normalization(mean=0.25, variance=0.0625), Dense(2)),
                                 input_shape=(2, 2, 1)), seed=0)[1]
    torch.testing.assert_close(flat(torch.ones(3, 4)), torch.full((3, 4), 3.0))


def test_normalization_weights_are_counted_as_keras_counts_them():
    to_adapt = ModelSpec(layers=(Normalization(), Conv2D(4, 3), Flatten(), Dense(10, activation="softmax")))
    model = build_model(to_adapt, seed=0)
    assert count_parameters(model) == (summarize(to_adapt).trainable, 3) and summarize(to_adapt).non_trainable == 3
    assert sorted(model[0].state_dict()) == ["count", "mean", "variance"]  # Keras's weights: zeros, ones, 0
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(model[0](x), x)  # the identity until adapted, as a Keras layer before adapt()
    given = adapt_normalization(to_adapt, torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8))
    assert count_parameters(build_model(given, seed=0)) == (summarize(given).trainable, 0)
    assert build_model(given, seed=0)[0].state_dict() == {}  # the spec holds the values, not the weights
    row = summarize(to_adapt).rows[0]
    assert (row.name, row.type, row.output_shape, row.params) == ("normalization", "Normalization", (None, 28, 28, 1), 3)
    assert " normalization (Normalization)" in format_summary(summarize(to_adapt))


def test_adapt_gives_the_population_statistics_of_the_pixels_as_the_model_sees_them():
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    images[0] = 255
    spec = ModelSpec(layers=(Normalization(), Flatten(), Dense(10)))
    layer = adapt_normalization(spec, images).layers[0]
    pixels = images.numpy().astype(np.float64) / 255
    assert layer.mean == pytest.approx(pixels.mean(), rel=1e-12) and layer.variance == pytest.approx(pixels.var(), rel=1e-12)
    keras_float32 = (images.numpy().astype(np.float32) / 255)  # what Keras's adapt() reads
    assert layer.variance == pytest.approx(float(np.var(keras_float32)), rel=1e-5)
    adapted = adapt_normalization(spec, images)
    assert adapt_normalization(adapted, images) is adapted  # nothing left to adapt
    assert adapt_normalization(CNN, images) is CNN
    out = build_model(adapted, seed=0)[0](images.unsqueeze(1).float() / 255)
    assert abs(float(out.mean())) < 1e-5 and float(out.std(unbiased=False)) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("images, needle", [
    (torch.rand(4, 28, 28), "uint8 images, got torch.float32"),
    (torch.zeros(0, 28, 28, dtype=torch.uint8), "with 0 pixels"),
])
def test_adapt_refuses_what_it_cannot_read(images, needle):
    with pytest.raises(SpecError, match=needle):
        adapt_normalization(ModelSpec(layers=(Normalization(), Flatten(), Dense(10))), images)
    with pytest.raises(SpecError, match="one-channel input"):
        adapt_normalization(ModelSpec(layers=(Normalization(), Flatten(), Dense(10)), input_shape=(28, 28, 3)),
                            torch.zeros(2, 28, 28, dtype=torch.uint8))


# Each registered layer type, placed after a feature map and after each way to get a flat vector.
PROBES = {"Flatten": Flatten(), "Dense": Dense(3), "Conv2D": Conv2D(2, 1), "MaxPooling2D": MaxPooling2D(1),
          "AveragePooling2D": AveragePooling2D(1), "GlobalAveragePooling2D": GlobalAveragePooling2D(),
          "Dropout": Dropout(0.5), "BatchNormalization": BatchNormalization(), "Activation": Activation("relu"),
          "Normalization": Normalization(mean=0.5, variance=0.25), "ZeroPadding2D": ZeroPadding2D(((1, 0), (0, 2))),
          "DepthwiseConv2D": DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
          "SeparableConv2D": SeparableConv2D(3, 3, strides=2, padding="same", depth_multiplier=2),
          "SpatialDropout2D": SpatialDropout2D(0.5), "GaussianNoise": GaussianNoise(0.1), "GaussianDropout": GaussianDropout(0.5)}
BEFORE = {"map": (Conv2D(2, 3),), "Flatten": (Conv2D(2, 3), Flatten()), "Dense": (Flatten(), Dense(5)),
          "GlobalAveragePooling2D": (Conv2D(2, 3), GlobalAveragePooling2D())}


def test_probes_cover_the_layer_registry():
    assert set(PROBES) == set(LAYER_TYPES)


@pytest.mark.parametrize("before", list(BEFORE))
@pytest.mark.parametrize("layer", list(PROBES))
def test_every_accepted_layer_input_builds_and_runs(layer, before):
    """Each (layer, input) pair the spec accepts builds modules that run on it with the spec's shapes
    (test_specs checks which pairs are accepted, against Keras)."""
    stack = (*BEFORE[before], PROBES[layer])
    try:
        spec = ModelSpec(layers=(*stack, Dense(3)), input_shape=(8, 8, 1))
    except SpecError:
        try:
            spec = ModelSpec(layers=(*stack, Flatten(), Dense(3)), input_shape=(8, 8, 1))
        except SpecError:
            return  # refused at validation
    model = _quiet_build(spec, seed=0)
    model.train()
    outputs = layer_outputs(model, torch.rand(4, 1, 8, 8))
    assert outputs[-1].shape == (4, 3) and torch.isfinite(outputs[-1]).all()
    keras_order = [tuple(o.shape[1:]) if o.dim() == 2 else (*o.shape[2:], o.shape[1]) for o in outputs]
    assert keras_order == spec.shapes()


# ------------------------------------------------------------------------ training memory (issue 14)
def _optimizer_state_bytes(name, momentum=0.0, **flags):
    """Bytes of the per-weight state torch's optimizer really keeps after one step (scalars excluded)."""
    from mnistlab.optim import make_optimizer

    model = build_model(CNN, seed=0)
    opt = make_optimizer(name, model.parameters(), momentum=momentum, **flags)
    F.cross_entropy(model(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    sizes = {p.numel() for p in model.parameters()}
    return sum(t.numel() * t.element_size() for state in opt.state.values() for t in state.values()
               if isinstance(t, torch.Tensor) and t.numel() in sizes and t.numel() > 1)


def _optimizer_cases():
    from mnistlab.config import OPTIMIZERS

    return [(name, 0.0, {}) for name in OPTIMIZERS] + [
        ("sgd", 0.9, {}), ("rmsprop", 0.9, {}), ("rmsprop", 0.0, {"centered": True}),
        ("rmsprop", 0.9, {"centered": True}), ("adam", 0.0, {"amsgrad": True}), ("adamw", 0.0, {"amsgrad": True})]


@pytest.mark.parametrize("name, momentum, flags", _optimizer_cases())
def test_training_memory_counts_what_every_optimizer_keeps(name, momentum, flags):
    from mnistlab.summary import training_memory

    est = training_memory(CNN, name, 32, momentum=momentum, **flags)
    params = summarize(CNN).total
    assert est.params == params and est.weights == est.gradients == 4 * params
    assert est.optimizer_state == _optimizer_state_bytes(name, momentum, **flags)
    assert est.total == est.weights + est.gradients + est.optimizer_state + est.activations
    ignored = training_memory(CNN, name, 32, momentum=0.9, amsgrad=True, centered=True)  # the settings it ignores
    kept = training_memory(CNN, name, 32, momentum=0.9 if name in ("sgd", "rmsprop") else 0.0,  # keep nothing
                           amsgrad=name in ("adam", "adamw"), centered=name == "rmsprop")  # (helper-174)
    assert ignored.optimizer_state == kept.optimizer_state


def _saved_for_backward(model, batch):
    """Bytes of the tensors autograd keeps for the backward pass of one batch (weights excluded)."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in weights:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        F.cross_entropy(model(torch.rand(batch, 1, 28, 28)), torch.zeros(batch, dtype=torch.long))
    return sum(seen.values())


def _memory_specs():
    from mnistlab.presets import list_presets

    odd = ModelSpec(layers=(Conv2D(8, 3, activation="gelu"), BatchNormalization(), AveragePooling2D(2),
                            Conv2D(8, 3, activation="elu"), GlobalAveragePooling2D(), Dense(32, activation="swish"),
                            Dense(10, activation="softmax")))
    mobile = ModelSpec(layers=(GaussianNoise(0.1), Conv2D(16, 3, strides=2, padding="same", activation="relu"),
                               DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu"), SpatialDropout2D(0.2),
                               SeparableConv2D(32, 3, strides=2, padding="same", activation="relu"),
                               GlobalAveragePooling2D(), GaussianDropout(0.2), Dense(10, activation="softmax")))
    return [(p.name, p.spec) for p in list_presets()] + [("gelu-bn-avg-gap", odd), ("depthwise-separable-noise", mobile)]


@pytest.mark.parametrize("name, spec", _memory_specs(), ids=[n for n, _ in _memory_specs()])
def test_training_memory_activations_match_what_autograd_saves(name, spec):
    from mnistlab.summary import training_memory

    measured = _saved_for_backward(_quiet_build(spec, seed=0), 32)
    assert 0.75 <= training_memory(spec, "adam", 32).activations / measured <= 1.25


def test_the_summary_shows_the_training_memory():
    from mnistlab.summary import training_memory

    summary = summarize("seed000-dense")
    text = format_summary(summary)
    assert ("Training memory: about 1.75 MB with adam at batch 32 (weights 407 KB, gradients 407 KB, "
            "optimizer state 814 KB, activations 118 KB)") in text
    assert summary.to_dict()["training_memory"]["total"] == summary.memory.total
    sgd = training_memory("seed000-dense", "sgd", 128)
    assert "with sgd at batch 128" in format_summary(summary, sgd) and sgd.optimizer_state == 0
    big = ModelSpec(layers=(Flatten(), Dense(400_000, activation="relu"), Dense(10, activation="softmax")))
    est = training_memory(big, "adam", 32)
    assert est.params == 318_000_010 and 5.0e9 < est.total < 5.3e9  # the model: about 5.2 GB with adam


def test_a_strided_pointwise_convolution_has_the_right_kernel_gradient_on_channels_last_input() -> None:
    """torch 2.13's CPU kernel for a strided 1x1 convolution (a ResNet's projection shortcut) gave a
    wrong kernel gradient on channels-last input in about 5 calls in 100 at 4 to 8 channels
    (bench/strided_pointwise_grad.py); mnistlab's Conv2D takes every stride-th pixel instead: the
    same outputs, and the gradient right on every call."""
    from mnistlab.models import Conv2D as TorchConv2D
    from mnistlab.specs import Conv2D

    torch.manual_seed(0)
    layer = TorchConv2D((8, 8, 4), Conv2D(filters=8, kernel_size=(1, 1), strides=(2, 2), padding="same"))
    x = torch.randn(6, 4, 8, 8)
    g = torch.randn(6, 8, 4, 4)
    expected = torch.nn.functional.conv2d(x, layer.weight, layer.bias, stride=2)
    torch.testing.assert_close(layer.conv_forward(x), expected)
    layer.zero_grad()
    (layer.conv_forward(x) * g).sum().backward()
    right = layer.weight.grad.clone()
    channels_last = x.contiguous(memory_format=torch.channels_last)
    for _ in range(300):
        layer.zero_grad()
        (layer.conv_forward(channels_last) * g).sum().backward()
        torch.testing.assert_close(layer.weight.grad, right, rtol=1e-4, atol=1e-5)


def test_batch_normalization_moves_its_statistics_as_keras_does() -> None:
    """helper-139: torch's BatchNorm moved toward the batch's unbiased variance (16/15 times
    Keras's for 16 rows); Keras moves toward the biased one. Keras 3's numbers for nine training
    batches (the last of each pass short) are recorded by bench/keras_batchnorm.py; the inference
    output with those statistics too. A run's BN (a Dense layer's or a conv map's) moves as Keras's."""
    from pathlib import Path

    keras = json.loads((Path(__file__).parent / "data" / "keras_batchnorm.json").read_text())
    images = torch.tensor(keras["images"], dtype=torch.uint8).permute(0, 3, 1, 2).float() / 255  # NHWC -> NCHW
    c, h, w = images.shape[1:]

    def ours(values: list) -> torch.Tensor:  # Keras's Flatten of NHWC (h, w, c) as mnistlab's of NCHW (c, h, w)
        t = torch.tensor(values)
        return t.view(*t.shape[:-1], h, w, c).movedim(-1, -3).flatten(-3) if t.shape[-1] == h * w * c else t

    for kind, want in keras["models"].items():
        bn_layer = {"type": "BatchNormalization", "momentum": want["momentum"], "epsilon": want["epsilon"]}
        layers = [{"type": "Flatten"}, bn_layer] if want["flatten"] else [bn_layer, {"type": "Flatten"}]
        model = build_model(parse_model_spec({"input_shape": [h, w, c], "layers": layers}), seed=0)
        model.train()
        with torch.no_grad():
            for _ in range(keras["passes"]):
                for batch in images.split(keras["batch"]):
                    model(batch)
        [bn] = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm.BatchNorm1d | torch.nn.BatchNorm2d)]
        torch.testing.assert_close(bn.running_mean, ours(want["moving_mean"]), rtol=1e-5, atol=1e-6, msg=kind)
        torch.testing.assert_close(bn.running_var, ours(want["moving_variance"]), rtol=1e-5, atol=1e-6, msg=kind)
        model.eval()
        with torch.no_grad():
            out = bn(images[:4].flatten(1) if want["flatten"] else images[:4])
        expect = ours(want["inference"]) if want["flatten"] else torch.tensor(want["inference"]).permute(0, 3, 1, 2)
        torch.testing.assert_close(out, expect, rtol=1e-4, atol=1e-5, msg=kind)


def test_batch_normalization_under_bf16_autocast_keeps_float32_statistics() -> None:
    """The batch's statistics come from the normalisation itself, in float32 under bf16 autocast
    (a bf16 variance would be off by up to 0.4%, more than the bias it replaces)."""
    spec = parse_model_spec({"input_shape": [6, 6, 4], "layers": [{"type": "BatchNormalization", "momentum": 0.0},
                                                                   {"type": "Flatten"}]})
    model = build_model(spec, seed=0)
    x = torch.randn(32, 4, 6, 6, generator=torch.Generator().manual_seed(1)) * 3 + 2
    model.train()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(x.bfloat16())
    [bn] = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    var, mean = torch.var_mean(x.bfloat16().float(), dim=[0, 2, 3], correction=0)  # momentum 0: the batch's own
    assert bn.running_var.dtype == torch.float32
    torch.testing.assert_close(bn.running_var, var, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_mean, mean, rtol=1e-5, atol=1e-6)


def test_zero_padding_pads_with_zeros_where_keras_does():
    """((top, bottom), (left, right)) in Keras's (H, W) words: torch's ZeroPad2d takes width first."""
    spec = ModelSpec(layers=(ZeroPadding2D(((1, 0), (0, 2))), Flatten(), Dense(2)), input_shape=(3, 4, 1))
    model = build_model(spec, seed=0)
    x = torch.rand(2, 1, 3, 4) + 1.0  # no zero of its own
    out = model[0](x)
    assert out.shape == (2, 1, 4, 6) and spec.shapes()[0] == (4, 6, 1)
    assert torch.equal(out[:, :, 1:, :4], x) and (out[:, :, 0] == 0).all() and (out[:, :, :, 4:] == 0).all()
    assert sum(p.numel() for p in model[0].parameters()) == 0


def test_normalization_values_after_a_flatten_of_channels_are_keras_order(tmp_path: Path) -> None:
    """helper-190: per-feature Normalization values after a Flatten of a map of several channels were
    applied in torch's flatten order (C, H, W) though given in Keras's (H, W, C): Keras's model JSON,
    weights and output recorded by bench/keras_flatten_normalization.py (Keras 3.15, TensorFlow)."""
    from mnistlab.specs import load_model_spec

    rec = np.load(Path(__file__).parent / "data" / "keras_flatten_normalization.npz")
    (tmp_path / "k.json").write_text(str(rec["json"]))
    model = build_model(load_model_spec(tmp_path / "k.json"), seed=0).eval()
    conv, dense = (m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(rec["w0"]).permute(3, 2, 0, 1))
        conv.bias.copy_(torch.from_numpy(rec["w1"]))
        rows = rec["w2"].reshape(2, 2, 3, 4).transpose(2, 0, 1, 3).reshape(12, 4)  # Keras's (h, w, c) rows: torch's
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(rows.T)))
        dense.bias.copy_(torch.from_numpy(rec["w3"]))
        out = model(torch.from_numpy(rec["x"]).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(out, rec["out"], rtol=1e-5, atol=1e-4)


def test_one_normalization_value_after_a_flatten_of_channels_is_broadcast() -> None:
    """helper-192: a one-value mean (Keras broadcasts it) after a Flatten of several channels was
    reordered as if it held one per feature: "cannot reshape array of size 1 into shape (2,2,3)"."""
    spec = parse_model_spec({"input_shape": [28, 28, 1], "layers": [
        {"type": "Conv2D", "filters": 3, "kernel_size": 14, "strides": 14}, {"type": "Flatten"},
        {"type": "Normalization", "mean": [1.0], "variance": [4.0]}, {"type": "Dense", "units": 10}]})
    model = build_model(spec, seed=0).eval()
    x = torch.rand(2, 1, 28, 28)
    flat = model[1](model[0](x))
    torch.testing.assert_close(model[2](flat), (flat - 1.0) / 2.0)
