"""Weight penalties (kernel_regularizer, bias_regularizer) against Keras 3's numbers, recorded by
bench/keras_regularizers.py in tests/data/keras_regularizers.json (Keras is not needed here): the
penalty, evaluate's loss, and two SGD epochs' losses and weights; and their bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.accel.members import batch_refusal
from mnistlab.config import parse_run_config
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.evaluate import evaluate_model
from mnistlab.models import build_model, regularization_loss
from mnistlab.specs import Dense, ModelSpec, layer_from_dict, parse_model_spec, spec_warnings
from mnistlab.trainer import Trainer

KERAS = json.loads((Path(__file__).parent / "data" / "keras_regularizers.json").read_text())

# the models of bench/keras_regularizers.py, in mnistlab's words
LAYERS = {
    "dense": ["Flatten",
              {"type": "Dense", "units": 6, "activation": "relu", "kernel_regularizer": {"l1": 1e-3, "l2": 1e-2},
               "bias_regularizer": "l2"},
              {"type": "Dense", "units": 3, "activation": "softmax", "kernel_regularizer": "l2", "bias_regularizer": "l1"}],
    "conv": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu", "kernel_regularizer": "l1",
              "bias_regularizer": {"l2": 0.05}},
             "GlobalAveragePooling2D",
             {"type": "Dense", "units": 3, "activation": "softmax", "kernel_regularizer": "l1l2"}],
    "residual": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                 {"type": "ResidualBlock", "filters": 8, "batch_norm": False,
                  "kernel_regularizer": {"l2": 0.02}, "bias_regularizer": "l1"},
                 "GlobalAveragePooling2D", {"type": "Dense", "units": 3, "activation": "softmax"}],
}


def _model(kind: str) -> torch.nn.Module:
    """The model with Keras's starting weights (a kernel (in, out) or (kh, kw, in, out) in torch's layout)."""
    with pytest.warns(Warning) if kind == "conv" else _nothing():  # "l1l2" penalises nothing: said
        model = build_model(parse_model_spec({"input_shape": [8, 8, 1], "layers": LAYERS[kind]}))
    params = [p for p in model.parameters()]
    for p, w in zip(params, KERAS["models"][kind]["weights"]):
        w = np.asarray(w, np.float32)
        w = w.T if w.ndim == 2 else w.transpose(3, 2, 0, 1) if w.ndim == 4 else w
        p.data.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    return model


class _nothing:
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...


def _data(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    rec = KERAS["models"][kind]
    return torch.tensor(rec["images"], dtype=torch.uint8), torch.tensor(rec["labels"], dtype=torch.int64)


def test_the_string_names_are_keras_3s_factors() -> None:
    for name, factors in KERAS["identifiers"].items():
        reg = Dense(units=2, kernel_regularizer=name).kernel_regularizer
        assert reg is not None
        assert reg.l1 == pytest.approx(factors.get("l1", 0.0), rel=1e-6) and reg.l2 == pytest.approx(factors.get("l2", 0.0))


@pytest.mark.parametrize("kind", ["dense", "conv", "residual"])
def test_penalty_evaluate_loss_and_two_sgd_epochs_match_keras(kind: str) -> None:
    """``residual``: a ResidualBlock's penalty on its three convolutions (the projection too) is the
    one Keras adds for the same functional block, and trains as Keras trains it."""
    rec = KERAS["models"][kind]
    model = _model(kind)
    images, labels = _data(kind)
    penalty = regularization_loss(model)
    assert penalty is not None and float(penalty.detach()) == pytest.approx(rec["penalty"], rel=1e-5)
    loss, _, _ = evaluate_model(model, images, labels)
    assert loss == pytest.approx(rec["evaluate_loss"], rel=1e-5)  # cross-entropy plus the penalty, as Keras's
    trainer = Trainer(model, optimizer="sgd", lr=0.1, batch_size=len(images), precision="float32")
    trainer.fit(images, labels, epochs=2)  # one full batch an epoch: no shuffle order enters
    assert [h["loss"] for h in trainer.history] == pytest.approx(rec["fit_loss"], rel=1e-5)
    for p, w in zip(model.parameters(), rec["trained"]):
        w = np.asarray(w, np.float32)
        w = w.T if w.ndim == 2 else w.transpose(3, 2, 0, 1) if w.ndim == 4 else w
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-4, atol=1e-6)


def test_a_model_without_penalties_has_none_and_records_as_before() -> None:
    spec = parse_model_spec({"layers": ["Flatten", {"type": "Dense", "units": 10, "activation": "softmax"}]})
    assert regularization_loss(build_model(spec)) is None
    assert "kernel_regularizer" not in spec.layers[1].to_dict()  # a recorded config keeps its key
    round_trip = layer_from_dict(layer_from_dict(LAYERS["dense"][1]).to_dict())
    assert round_trip.to_dict()["kernel_regularizer"] == {"l1": 1e-3, "l2": 1e-2}
    assert round_trip.to_dict()["bias_regularizer"] == {"l1": 0.0, "l2": 0.01}


def test_l1l2_with_keras_defaults_warns_that_it_penalises_nothing() -> None:
    spec = ModelSpec(layers=(layer_from_dict("Flatten"), Dense(units=10, activation="softmax", kernel_regularizer="l1l2")))
    [warning] = [w for w in spec_warnings(spec) if "penalises nothing" in w]
    assert "write { l1 = 0.01, l2 = 0.01 }" in warning


@pytest.mark.parametrize("value, message", [
    ("l1_l2", "\"l1_l2\" (0.01 each in tf.keras 2 and in Keras 3's docstring) is refused by Keras 3's "
              "regularizers.get, whose \"l1l2\" is 0 each: write { l1 = 0.01, l2 = 0.01 }"),
    ("l3", 'unknown regularizer "l3"; write "l1", "l2" or a table such as { l2 = 0.0005 }'),
    ({"l2": -0.1}, "kernel_regularizer.l2 must be in [0, inf), got -0.1"),
    ({"l2": float("nan")}, "kernel_regularizer.l2 must be in [0, inf)"),
    ({"l2": "0.1"}, 'kernel_regularizer.l2 must be a number, got string "0.1"'),
    ({"l3": 0.1}, 'kernel_regularizer: unknown key "l3"'),
    ({"type": "L2", "l2": 0.1}, 'kernel_regularizer: unknown key "type"'),
    (0.01, 'kernel_regularizer must be "l1", "l2" or a table such as { l2 = 0.0005 }, got float 0.01'),
    (True, "got boolean true"),
])
def test_bad_regularizers_are_one_line_errors_before_anything_trains(value: object, message: str) -> None:
    layer = {"type": "Dense", "units": 10, "activation": "softmax", "kernel_regularizer": value}
    with pytest.raises(SpecError) as err:
        parse_run_config({"dataset": "mnist", "model": {"layers": ["Flatten", layer]}}, source="run.toml")
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_keras_saved_form_of_a_penalty_is_read() -> None:
    """Hostile-input review: a penalty pasted from Keras's get_config / model.to_json was an unknown key."""
    saved = {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.0005}, "registered_name": None}
    read = {json.dumps(v): Dense(units=3, kernel_regularizer=v).kernel_regularizer for v in (
        saved, {"class_name": "L1", "config": {}}, {"class_name": "L1L2", "config": {"l1": 1e-5, "l2": 1e-4}})}
    assert [(r.l1, r.l2) for r in read.values()] == [(0.0, 0.0005), (0.01, 0.0), (1e-5, 1e-4)]  # L1(): Keras's 0.01
    for bad, says in (({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.01}}, "is none mnistlab reads"),
                      ({"class_name": "L2", "config": {"l1": 0.1}}, "is none mnistlab reads"),
                      ({"class_name": "L2", "cfg": {}}, 'unknown key "cfg"')):
        with pytest.raises(SpecError, match=says):
            Dense(units=3, kernel_regularizer=bad)


def test_a_residual_block_puts_its_penalty_on_every_convolution() -> None:
    """Hostile-input review: ResidualBlock took no kernel_regularizer ("did you mean kernel_size?");
    keras.io's ResNets put L2 on each Conv2D, the projection too."""
    from mnistlab.specs import ResidualBlock

    layers = [{"type": "Conv2D", "filters": 4, "kernel_size": 3},
              {"type": "ResidualBlock", "filters": 8, "strides": 2, "kernel_regularizer": {"l2": 1e-4}},
              "GlobalAveragePooling2D", {"type": "Dense", "units": 3, "activation": "softmax"}]
    spec = parse_model_spec({"input_shape": [8, 8, 1], "layers": layers})
    model = build_model(spec)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][1:]  # the block's: 2 and the projection
    assert len(convs) == 3
    expected = sum(1e-4 * float(c.weight.detach().double().square().sum()) for c in convs)
    assert float(regularization_loss(model).detach()) == pytest.approx(expected, rel=1e-5)
    from mnistlab.summary import summarize

    assert len(summarize(spec).penalties) == 3 and all("L2(l2=0.0001)" in p for p in summarize(spec).penalties)
    assert "kernel_regularizer" not in ResidualBlock(filters=8).to_dict()  # an unpenalised block keys as before


def test_a_strided_residual_blocks_penalised_step_follows_the_losss_slope() -> None:
    """Where Keras 3.15 (torch backend) is no reference (a strided block's 1x1 projection: its
    gradient varied from run to run, torch's kernel erring: bench/strided_pointwise_grad.py), the
    trainer's SGD step on every
    weight is checked against the slope of the cross-entropy plus the penalty, by central
    differences in float64: the step trains on the penalty of all three convolutions."""
    import copy

    layers = [dict(LAYERS["residual"][0]), {**LAYERS["residual"][1], "strides": 2}, *LAYERS["residual"][2:]]
    model = build_model(parse_model_spec({"input_shape": [8, 8, 1], "layers": layers}))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    exact = copy.deepcopy(model).double()
    images = torch.randint(0, 256, (6, 8, 8), generator=gen, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(model, optimizer="sgd", lr=0.1, batch_size=6, precision="float32").fit(images, labels, epochs=1)
    x = (images.double() / 255.0)[:, None]

    def loss() -> float:
        penalty = regularization_loss(exact)
        assert penalty is not None and penalty.dtype == torch.float64
        return float(torch.nn.functional.cross_entropy(exact(x), labels) + penalty)

    with torch.no_grad():
        for (name, p), p0, p1 in zip(exact.named_parameters(), before, model.parameters()):
            step, slope = ((p0 - p1.detach()) / 0.1).view(-1), {}
            for i in torch.randperm(p.numel(), generator=gen)[:10].tolist():  # ten weights of each tensor
                flat = p.view(-1)
                flat[i] += 1e-6
                up = loss()
                flat[i] -= 2e-6
                slope[i] = (up - loss()) / 2e-6
                flat[i] += 1e-6
            torch.testing.assert_close(step[list(slope)].double(), torch.tensor(list(slope.values()), dtype=torch.float64),
                                       rtol=1e-3, atol=1e-5, msg=name)


def test_a_bias_penalty_needs_a_bias() -> None:
    with pytest.raises(SpecError, match="bias_regularizer with use_bias = false: the layer has no bias to penalise"):
        Dense(units=3, use_bias=False, bias_regularizer="l2")


def test_the_summary_and_the_model_card_name_each_penalty(data_dir: Path, tmp_path: Path) -> None:
    """Keras's summary says nothing of them; mnistlab's says which layer's weights pay what."""
    from mnistlab.card import model_card
    from mnistlab.summary import format_summary, summarize
    from mnistlab.presets import resolve_model
    from mnistlab.run import train

    spec = parse_model_spec({"input_shape": [8, 8, 1], "layers": LAYERS["conv"]})
    summary = summarize(spec)
    assert summary.penalties == ("conv2d kernel L1(l1=0.01)", "conv2d bias L2(l2=0.05)", "dense kernel L1L2(l1=0, l2=0)")
    assert format_summary(summary).endswith("\nWeight penalties (added to the loss): conv2d kernel L1(l1=0.01), "
                                            "conv2d bias L2(l2=0.05), dense kernel L1L2(l1=0, l2=0)")
    assert summary.to_dict()["weight_penalties"] == list(summary.penalties)
    plain = summarize(resolve_model("seed000-cnn"))
    assert plain.penalties == () and "Weight penalties" not in format_summary(plain)
    model = {"layers": ["Flatten", {"type": "Dense", "units": 10, "activation": "softmax",
                                    "kernel_regularizer": {"l1": 1e-5, "l2": 1e-4}}]}
    run = train("mnist", model, epochs=1, data_dir=data_dir, progress="none", subset=120)
    card = model_card(run, data_dir=data_dir)
    assert "Weight penalties, added to the loss it trained on: dense kernel L1L2(l1=1e-05, l2=0.0001)." in card
    assert card.endswith("\n") and not card.endswith("\n\n")  # a text file's one last newline (new-user finding)


def test_a_penalised_committee_trains_its_members_one_by_one() -> None:
    configs = [parse_run_config({"dataset": "mnist", "train": {"seed": s},
                                 "model": {"layers": ["Flatten", LAYERS["dense"][2]]}}) for s in (0, 1)]
    assert "weight penalty" in (batch_refusal(configs) or "")


def test_a_variant_adds_a_penalty_to_a_presets_layer(tmp_path: Path) -> None:
    from mnistlab.experiments import load_experiment

    p = tmp_path / "lab.toml"
    p.write_text('name = "lab"\n[base]\ndataset = "mnist"\nmodel = "seed000-cnn"\n[[variants]]\nname = "cnn"\n'
                 '[[variants]]\nname = "l2"\n"model.layers[-2].kernel_regularizer" = { l2 = 0.001 }\n')
    cells = {c.variant: c for c in load_experiment(p).cells()}
    plain, penalised = (parse_run_config(cells[v].config).model_spec() for v in ("cnn", "l2"))
    assert plain.layers[-2].kernel_regularizer is None and penalised.layers[-2].kernel_regularizer.l2 == 0.001
    assert cells["cnn"].key != cells["l2"].key
    p.write_text(p.read_text().replace("{ l2 = 0.001 }", '"l1_l2"'))
    with pytest.raises(SpecError, match=r'lab.toml:\d+: variant "l2": .*"l1_l2" \(0.01 each in tf.keras 2'):
        load_experiment(p)


def test_a_variants_penalty_replaces_the_bases_and_false_drops_it(tmp_path: Path) -> None:
    """Hostile-input review: a variant's table was merged into the base's (l1 added to its l2, as a
    [grid] never does), no variant could drop the base's penalty, a deliberate 0 was told to write
    0.01, and a factor set inside a base's "l2" failed with no file or line."""
    from mnistlab.experiments import load_experiment

    p = tmp_path / "pen.toml"
    layer = '{ type = "Dense", units = 8, activation = "relu", kernel_regularizer = %s }'
    text = ('name = "pen"\n[base]\ndataset = "mnist"\nmodel = { layers = ["Flatten", %s, { type = "Dense", units = 10, '
            'activation = "softmax" }] }\n' + "".join(f'[[variants]]\nname = "{n}"\n{o}\n' for n, o in (
                ("base", ""), ("l1", '"model.layers[1].kernel_regularizer" = { l1 = 0.001 }'),
                ("none", '"model.layers[1].kernel_regularizer" = false'),
                ("zero", '"model.layers[1].kernel_regularizer" = { l2 = 0 }'),
                ("factor", '"model.layers[1].kernel_regularizer.l1" = 0.001'))))
    for base, factor in (("{ l2 = 0.01 }", (0.001, 0.01)), ('"l2"', (0.001, 0.01))):
        p.write_text(text % (layer % base))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the zero penalty is deliberate: no warning
            specs = {c.variant: parse_run_config(c.config).model_spec() for c in load_experiment(p).cells()}
        penalty = {v: spec.layers[1].kernel_regularizer for v, spec in specs.items()}
        assert (penalty["base"].l1, penalty["base"].l2) == (0.0, 0.01) and penalty["none"] is None
        assert (penalty["l1"].l1, penalty["l1"].l2) == (0.001, 0.0)  # replaced whole, as a [grid] replaces it
        assert (penalty["zero"].l1, penalty["zero"].l2) == (0.0, 0.0)
        assert (penalty["factor"].l1, penalty["factor"].l2) == factor  # one factor changed, the other kept
        assert "kernel_regularizer" not in specs["none"].layers[1].to_dict()  # keyed as a layer never penalised


def test_a_grid_over_penalties_on_a_preset_names_each_cell_by_its_factors(tmp_path: Path) -> None:
    from mnistlab.experiments import load_experiment

    p = tmp_path / "grid.toml"
    p.write_text('name = "g"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[grid]\n'
                 '"model.layers[-2].kernel_regularizer" = [{ l2 = 0.001 }, { l1 = 1e-5, l2 = 1e-4 }, "l1"]\n')
    names = [v.name for v in load_experiment(p).variants]  # were all "...=custom": two variants of one name
    assert names == ["layers[1].kernel_regularizer=l2:0.001", "layers[1].kernel_regularizer=l1:1e-05/l2:0.0001",
                     "layers[1].kernel_regularizer=l1"]
    p.write_text(p.read_text().split("[grid]")[0] + '[grid]\n"model.layers[-2].kernel_regularizer.l2" = [0.001, 0.01]\n')
    cells = load_experiment(p).cells()  # a factor alone, on a layer the preset leaves unpenalised
    assert [parse_run_config(c.config).model_spec().layers[-2].kernel_regularizer.l2 for c in cells] == [0.001, 0.01]
    assert [c.variant for c in cells] == ["layers[1].kernel_regularizer.l2=0.001", "layers[1].kernel_regularizer.l2=0.01"]


def test_in_a_sweep_a_penalty_too_strong_is_said_of_each_cell_by_name(tmp_path: Path, data_dir: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Among a sweep's lines, "epoch 1: the weight penalties are ..." did not say which cell it was
    about (and a second cell's was not shown); a warning of a setting the cells share stays one line."""
    from mnistlab.cli import main

    (tmp_path / "pen.toml").write_text(
        'name = "pen"\n[base]\ndataset = "mnist"\ndata = { subset = 600 }\ntrain = { epochs = 1, threads = 1 }\n'
        'model = { layers = ["Flatten", { type = "Dense", units = 10, activation = "sigmoid", '
        'kernel_regularizer = { l2 = 50.0 } }] }\n[grid]\n"train.lr" = [0.001, 0.01]\n')
    assert main(["run", str(tmp_path / "pen.toml"), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(said) == 3 and "output activation 'sigmoid'" in said[0], said  # shared: once, not named
    assert said[1].startswith('warning: variant "lr=0.001" (seed 0): epoch 1: the weight penalties are ')
    assert said[2].startswith('warning: variant "lr=0.01" (seed 0): epoch 1: the weight penalties are ')


def test_a_penalty_too_strong_is_named_beside_the_learning_rate_when_the_loss_blows_up(data_dir: Path) -> None:
    from mnistlab.run import run_config

    cfg = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 300},
                            "train": {"epochs": 1, "threads": 1}})
    strong = parse_run_config({**cfg.resolved(), "model": {"layers": [
        "Flatten", {"type": "Dense", "units": 128, "activation": "relu", "kernel_regularizer": {"l2": 10.0}},
        {"type": "Dense", "units": 10, "activation": "softmax"}]}})
    # hostile-input review: a penalty that large makes the loss large from the first step (falling),
    # with accuracy at chance: not a learning rate blown up, but a penalty too strong, said as such
    with pytest.warns(SpecWarning, match=r"epoch 1: the weight penalties are .* of the loss .* and accuracy is at chance "
                                         r".*: the penalty \(kernel_regularizer, bias_regularizer\) is probably too strong"):
        result = run_config(strong, data_dir=data_dir, progress="none")
    assert result.status == "finished", result.message
    blown = parse_run_config({**strong.resolved(), "train": {**strong.resolved()["train"], "optimizer": "sgd",
                                                              "lr": 50.0}})
    result = run_config(blown, data_dir=data_dir, progress="none")  # a step far too large: blown up, penalty or not
    assert result.status == "diverged" and result.message.endswith(
        "or a weight penalty too strong (kernel_regularizer, bias_regularizer: the loss includes it)"), result.message
    huge = parse_run_config({**strong.resolved(), "model": {**strong.resolved()["model"], "layers": [
        strong.resolved()["model"]["layers"][0], {**strong.resolved()["model"]["layers"][1],
                                                  "kernel_regularizer": {"l1": 0.0, "l2": 1e308}},
        strong.resolved()["model"]["layers"][2]]}})
    inf = run_config(huge, data_dir=data_dir, progress="none")  # the loss is inf at once (hostile-input review)
    assert inf.status == "diverged" and inf.message.startswith("loss became inf"), inf.message
    assert inf.message.startswith("loss became inf at epoch 1, batch 1, before any update: a weight penalty too strong "
                                  "(kernel_regularizer, bias_regularizer: the loss includes it)"), inf.message  # not the rate
    from mnistlab.comparison import Comparison
    from mnistlab.store import RunRecord

    rec = RunRecord("r1", "e", "l2", 0, 0, {}, "k", "diverged", message=inf.message)
    (row,) = Comparison([rec], [], keys={("l2", "k")}).rows()
    assert row["note"] == "1 diverged: the learning rate or the weight penalty is probably too high"


def test_a_negative_zero_factor_is_zero() -> None:
    """Hostile-input review: l2 = -0.0 was listed as "L1L2(l1=0, l2=-0)"."""
    reg = Dense(units=2, kernel_regularizer={"l1": 1e-3, "l2": -0.0}).kernel_regularizer
    assert reg is not None and str(reg) == "L1(l1=0.001)" and str(reg.to_dict()["l2"]) == "0.0"
