"""Augmentation: Keras's outputs for every fill mode, exact geometry, seeding, vectorisation, the preview command."""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.augment import (
    Augmenter, augment_batch, describe, erase_mask, preview_figure, sample_params, transform_batch, wrap_coords,
)
from mnistlab.cli import main
from mnistlab.config import AugmentConfig, parse_augment
from mnistlab.datasets import load_dataset
from mnistlab.errors import SpecError, SpecWarning

KERAS = np.load(Path(__file__).parent / "data" / "keras_augment.npz")  # bench/keras_augment.py


def blob(n=4, size=28):
    """Images with an off-centre bright square: any geometric change moves it."""
    x = torch.zeros(n, 1, size, size)
    x[:, :, 4:10, 6:14] = 1.0
    return x


def params_for(n, **given):
    """The transform dict of `sample_params`, identity except for ``given`` (one value for all images)."""
    full = {"angle": torch.zeros(n), "zoom_x": torch.ones(n), "zoom_y": torch.ones(n), "shift_x": torch.zeros(n),
            "shift_y": torch.zeros(n), "flip_horizontal": torch.zeros(n, dtype=torch.bool)}
    full.update({k: torch.as_tensor(v).expand(n).clone() for k, v in given.items()})
    return full


def warp(x, fill_mode="constant", **given):
    return transform_batch(x, params_for(x.shape[0], **given), fill_mode)


def keras_params(t, n):
    """Keras's apply_transform keys of recorded transform ``t`` in mnistlab's units: Keras's ``tx``
    moves the image along its columns (see the width-shift test), so it is shift_x (pixels both)."""
    theta, tx, ty, zx, zy, flip = KERAS["transforms"][t]
    return params_for(n, angle=torch.tensor(KERAS["angle_rad"][t], dtype=torch.float64), shift_x=tx,
                      shift_y=ty, zoom_x=zx, zoom_y=zy, flip_horizontal=bool(flip))


def keras_images():
    return torch.from_numpy(KERAS["images"]).float().div(255).unsqueeze(1)


def test_identity_params_give_the_same_image():
    x = blob()
    torch.testing.assert_close(warp(x), x)


def test_whole_pixel_shift_moves_the_image_exactly():
    x = blob()
    out = warp(x, shift_x=torch.tensor(3.0), shift_y=torch.tensor(-2.0))
    # input = output + shift: the content moves by -shift (left 3, down 2)
    torch.testing.assert_close(out, torch.roll(x, shifts=(2, -3), dims=(2, 3)))


def test_flip_and_quarter_turn_are_exact():
    x = blob()
    torch.testing.assert_close(warp(x, flip_horizontal=torch.tensor(True)), x.flip(-1))
    torch.testing.assert_close(warp(x, flip_vertical=torch.tensor(True)), x.flip(-2))
    both = warp(x, flip_horizontal=torch.tensor(True), flip_vertical=torch.tensor(True))
    torch.testing.assert_close(both, x.flip(-1).flip(-2))
    quarter = warp(x, angle=torch.tensor(math.pi / 2))
    torch.testing.assert_close(quarter, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_zoom_above_one_shrinks_the_content():
    x = blob()
    assert warp(x, zoom_x=torch.tensor(1.5), zoom_y=torch.tensor(1.5)).sum() < x.sum() * 0.6


def test_params_stay_in_their_ranges():
    cfg = AugmentConfig(rotation_range=10, zoom_range=0.1, width_shift_range=0.2, height_shift_range=0.05,
                        horizontal_flip=True)
    p = sample_params(10_000, cfg, torch.Generator().manual_seed(0))
    assert p["angle"].abs().max() <= math.radians(10) and p["angle"].abs().max() > math.radians(9.9)
    assert p["zoom_x"].min() >= 0.9 and p["zoom_x"].max() <= 1.1
    assert not torch.equal(p["zoom_x"], p["zoom_y"])  # drawn independently, as Keras does
    assert p["shift_x"].abs().max() <= 0.2 * 28 and p["shift_y"].abs().max() <= 0.05 * 28  # pixels
    assert 0.45 < p["flip_horizontal"].float().mean() < 0.55
    assert not p["flip_vertical"].any() and not p["shear"].any()


def test_seeded_and_independent_of_other_randomness():
    cfg = AugmentConfig(rotation_range=15, zoom_range=0.1, width_shift_range=0.1, random_erasing=0.5)
    x = blob(8)
    a = Augmenter(cfg, seed=3)(x)
    torch.manual_seed(123)  # the global RNG must not matter
    b = Augmenter(cfg, seed=3)(x)
    c = Augmenter(cfg, seed=4)(x)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # each image gets its own transform
    aug = Augmenter(cfg, seed=3)
    state = aug.state_dict()
    first = aug(x)
    aug.load_state_dict(state)
    torch.testing.assert_close(aug(x), first)


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_batch_equals_per_image_application(fill_mode):
    cval = 0.25 if fill_mode == "constant" else 0.0
    cfg = AugmentConfig(rotation_range=30, zoom_range=0.2, width_shift_range=0.1, height_shift_range=0.1,
                        horizontal_flip=True, fill_mode=fill_mode, cval=cval)
    x = blob(6)
    x[3] = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1))
    batch = augment_batch(x, cfg, torch.Generator().manual_seed(5))
    p = sample_params(6, cfg, torch.Generator().manual_seed(5))
    assert p["flip_horizontal"].any() and not p["flip_horizontal"].all()
    for i in range(6):
        one = {k: v[i : i + 1] for k, v in p.items()}
        torch.testing.assert_close(batch[i : i + 1], transform_batch(x[i : i + 1], one, fill_mode, cval))


def test_identity_config_and_input_untouched():
    x = blob()
    before = x.clone()
    out = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x)
    augment_batch(x, AugmentConfig(rotation_range=20, random_erasing=1.0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, before)


def test_random_erasing_mask():
    g = torch.Generator().manual_seed(0)
    assert not erase_mask(50, 28, 28, 0.0, g).any()
    m = erase_mask(500, 28, 28, 1.0, g)
    area = m.float().sum((1, 2, 3)) / (28 * 28)
    assert m.shape == (500, 1, 28, 28) and (area > 0).all() and area.max() <= 0.40
    assert area.min() >= 0.01
    half = erase_mask(2000, 28, 28, 0.5, g).flatten(1).any(1).float().mean()
    assert 0.45 < half < 0.55


def test_preview_figure_and_cli(data_dir, tmp_path, capsys):
    imgs = np.zeros((3, 28, 28), np.uint8)
    fig = preview_figure(imgs, AugmentConfig(rotation_range=10), copies=4)
    assert len(fig.axes) == 3 * 5
    out = tmp_path / "aug.png"
    code = main(["show-augment", "--dataset", "mnist", "--data-dir", str(data_dir), "--rotation-range", "10",
                 "--random-erasing", "0.3", "--images", "2", "--copies", "3", "-o", str(out)])
    assert code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    toml = tmp_path / "exp.toml"
    toml.write_text('[base]\ndataset = "mnist"\n[base.augment]\nzoom_range = 0.1\n')
    assert main(["show-augment", "--config", str(toml), "--data-dir", str(data_dir), "--out", str(out)]) == 0


@pytest.mark.parametrize("args, needle", [
    (["--rotation-range", "500"], "augment.rotation_range"),
    (["--random-erasing", "-1"], "augment.random_erasing"),
    (["--dataset", "cifar"], "cifar"),
    (["--config", "missing.toml"], "no such file"),
    (["--out", "a.txt"], "the file name must end in .png"),
    (["--out", "no-such-folder/a.png"], "no-such-folder"),
    (["--width-shift-range", "true"], "--width-shift-range"),
    (["--width-shift-range", "1\nrotation_range = 2"], "--width-shift-range"),
    (["--width-shift-range", "[-2, 2]"], "random sign"),
    (["--zoom-range", "[0.9]"], "augment.zoom_range"),
    (["--zoom-range", "[" * 5000], "--zoom-range"),
    (["--zoom-range", "[0, 1.2]"], "above 0"),
    (["--shear-range", "90"], "augment.shear_range"),
])
def test_show_augment_bad_input(args, needle, data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["show-augment", "--data-dir", str(data_dir), "--out", "a.png", *args])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and "Traceback" not in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.txt"))


def test_a_warning_made_an_error_is_one_line(data_dir, tmp_path, capsys, monkeypatch):
    """`python -W error mnistlab ...` turns our warnings into errors: one line and exit 1, not a traceback."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["show-augment", "--data-dir", str(data_dir), "--out", "a.png", "--width-shift-range", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: augment.width_shift_range = 1 (an int)") and err.count("\n") == 1
    assert not list(tmp_path.glob("*.png"))


def test_show_augment_config_without_augment(tmp_path, data_dir, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('dataset = "mnist"\n')
    assert main(["show-augment", "--config", str(bad), "--data-dir", str(data_dir)]) == 2
    assert "no [augment]" in capsys.readouterr().err
    bad.write_text('[augment]\nrotaton_range = 3\n')
    assert main(["show-augment", "--config", str(bad), "--data-dir", str(data_dir)]) == 2
    assert 'did you mean "rotation_range"' in capsys.readouterr().err


# ----- Keras's ImageDataGenerator, recorded by bench/keras_augment.py -------------------------------------------
def test_recorded_images_are_the_real_mnist_test_images(data_dir):
    test = load_dataset("mnist", data_dir).test_images
    np.testing.assert_array_equal(KERAS["images"][:3], test[:3])
    np.testing.assert_array_equal(KERAS["images"][3], 255 - test[0])


@pytest.mark.parametrize("f", range(len(KERAS["fill_modes"])),
                         ids=[f"{m}-{c:g}" for m, c in zip(KERAS["fill_modes"], KERAS["cvals"])])
def test_every_fill_mode_matches_keras_pixel_for_pixel(f):
    mode, cval = str(KERAS["fill_modes"][f]), float(KERAS["cvals"][f])
    x = keras_images()
    for t in range(len(KERAS["transforms"])):
        out = transform_batch(x, keras_params(t, len(x)), mode, cval)
        expected = torch.from_numpy(KERAS["outputs"][f, t]).unsqueeze(1)
        # float32 rounding: Keras interpolates in float64 (scipy), mnistlab in float32
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0, msg=lambda m, t=t: f"transform {t}: {m}")


def test_augment_batch_uses_the_configured_fill():
    x = keras_images()
    cfg = AugmentConfig(rotation_range=40, zoom_range=0.3, width_shift_range=0.3, fill_mode="constant", cval=0.5)
    out = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    expected = transform_batch(x, sample_params(len(x), cfg, torch.Generator().manual_seed(0)), "constant", 0.5)
    torch.testing.assert_close(out, expected)
    assert (out == 0.5).sum() > 50  # the fill came in


def test_fill_modes_differ_where_keras_differs():
    """Each mode brings in something else at the edges of a far transform (so each test above can fail)."""
    x = keras_images()
    outs = [transform_batch(x, keras_params(8, len(x)), m) for m in ("nearest", "constant", "reflect", "wrap")]
    for i in range(4):
        for j in range(i + 1, 4):
            assert (outs[i] - outs[j]).abs().max() > 0.1


def test_wrap_has_scipys_period_of_size_minus_one():
    c = torch.tensor([0.0, 4.0, 4.5, 5.0, 8.0, -1.0, -4.0, -0.5])
    # scipy "wrap" on 5 pixels: [0, 4] as is, beyond it period 4 (pixel 4 and pixel 0 overlap)
    torch.testing.assert_close(wrap_coords(c, 5), torch.tensor([0.0, 4.0, 0.5, 1.0, 0.0, 3.0, 4.0, 3.5]))
    assert torch.equal(wrap_coords(torch.tensor([-3.0, 7.0]), 1), torch.zeros(2))


def test_config_offers_every_keras_fill_mode_and_cval():
    for mode, cval in zip(KERAS["fill_modes"], KERAS["cvals"]):
        assert parse_augment({"fill_mode": str(mode), "cval": float(cval)}).fill_mode == mode
    with pytest.raises(SpecError) as info:
        parse_augment({"fill_mode": "mirror"})
    assert "augment.fill_mode" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ValueError, match="unknown fill_mode 'mirror'"):
        transform_batch(blob(1), params_for(1), "mirror")
    for cval, hint in ((255, "for 255 in pixels write 1"), (-0.5, "between 0 (the background, no ink) and 1 (full ink)"),
                       (1e9, "got 1e+09")):
        with pytest.raises(SpecError, match=r"augment\.cval: must be between 0") as info:  # Keras's pixels, not [0, 1]
            parse_augment({"fill_mode": "constant", "cval": cval})
        assert hint in str(info.value) and "\n" not in str(info.value)


def test_width_shift_moves_horizontally_where_keras_moves_vertically(data_dir):
    """keras-team/keras#17398: Keras's generator puts width_shift_range into ``ty``, a vertical move;
    mnistlab's width_shift_range moves the image along its width."""
    tx, ty = KERAS["width_shift_params"]
    assert tx == 0 and ty != 0
    x = keras_images()[:1]
    keras_out = torch.from_numpy(KERAS["width_shifted"]).view(1, 1, 28, 28)
    torch.testing.assert_close(transform_batch(x, params_for(1, shift_y=ty), "constant"), keras_out,
                               atol=1e-5, rtol=0)
    p = sample_params(100, AugmentConfig(width_shift_range=0.1), torch.Generator().manual_seed(0))
    assert p["shift_x"].abs().max() > 0.05 * 28 and not p["shift_y"].any()
    shifted = augment_batch(x.expand(8, -1, -1, -1), AugmentConfig(width_shift_range=0.1, fill_mode="constant"),
                            torch.Generator().manual_seed(0))
    # a horizontal move keeps each row's ink (the digit stays inside its 4-pixel margins)
    torch.testing.assert_close(shifted.sum(-1), x.sum(-1).expand(8, -1, -1), atol=1e-4, rtol=0)
    assert not torch.allclose(shifted.sum(-2), x.sum(-2).expand(8, -1, -1), atol=1e-2)


# ----- the other forms Keras's ImageDataGenerator takes: shear, vertical flips, pixel shifts, [lo, hi] zooms ------
@pytest.mark.parametrize("f", range(len(KERAS["fill_modes"])),
                         ids=[f"{m}-{c:g}" for m, c in zip(KERAS["fill_modes"], KERAS["cvals"])])
def test_shear_and_vertical_flip_match_keras_pixel_for_pixel(f):
    mode, cval = str(KERAS["fill_modes"][f]), float(KERAS["cvals"][f])
    x = keras_images()
    for t, (theta, shear, zx, zy, flip_h, flip_v) in enumerate(KERAS["sheared_transforms"]):
        params = params_for(len(x), angle=torch.tensor(math.radians(theta), dtype=torch.float64),
                            shear=torch.tensor(math.radians(shear), dtype=torch.float64), zoom_x=zx, zoom_y=zy,
                            flip_horizontal=bool(flip_h), flip_vertical=bool(flip_v))
        expected = torch.from_numpy(KERAS["sheared"][f, t]).unsqueeze(1)
        torch.testing.assert_close(transform_batch(x, params, mode, cval), expected, atol=1e-5, rtol=0,
                                   msg=lambda m, t=t: f"transform {t}: {m}")


# Keras's key in get_random_transform -> mnistlab's in sample_params, and the factor from Keras's units
# (Keras's ty is the width shift, keras-team/keras#17398; its shear is in degrees).
KERAS_KEYS = {"ty": ("shift_x", 1.0), "tx": ("shift_y", 1.0), "zx": ("zoom_x", 1.0), "zy": ("zoom_y", 1.0),
              "shear": ("shear", math.pi / 180)}


@pytest.mark.parametrize("d", range(len(KERAS["draw_settings"])), ids=list(KERAS["draw_settings"]))
def test_each_range_form_draws_what_keras_draws(d):
    """An int shift is whole pixels 0 .. N-1 with a sign, a list one of its values with a sign
    (times the size when all are below 1), a float from 1 up uniform pixels, a zoom [lo, hi] uniform
    in it: the values Keras drew 4,000 times, drawn here too."""
    settings = ast.literal_eval(str(KERAS["draw_settings"][d]))
    key, factor = KERAS_KEYS[str(KERAS["draw_keys"][d])]
    keras = KERAS[f"draws_{d}"] * factor
    drawn = sample_params(4000, AugmentConfig(**settings), torch.Generator().manual_seed(d))[key].double().numpy()
    if len(keras) > 2 or np.allclose(keras, np.round(keras)):  # a discrete form: the same set of values
        np.testing.assert_allclose(np.unique(drawn), keras, rtol=1e-12)
    else:  # uniform: both reach the same ends
        span = keras[1] - keras[0]
        assert drawn.min() >= keras[0] - 0.01 * span and drawn.max() <= keras[1] + 0.01 * span
        assert drawn.min() <= keras[0] + 0.01 * span and drawn.max() >= keras[1] - 0.01 * span


def test_flips_alone_are_exact_and_each_draws_its_own_coin():
    x = blob(64)
    out = augment_batch(x, AugmentConfig(vertical_flip=True), torch.Generator().manual_seed(0))
    flipped = (out == x.flip(-2)).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) ^ flipped).all() and 10 < flipped.sum() < 54
    p = sample_params(4000, AugmentConfig(horizontal_flip=True, vertical_flip=True), torch.Generator().manual_seed(0))
    both = (p["flip_horizontal"] & p["flip_vertical"]).float().mean()
    assert 0.2 < both < 0.3  # independent coins, as Keras draws them


def test_the_forms_are_kept_and_old_configs_keep_their_identity():
    """An int shift stays an int (Keras reads 2 and 2.0 differently), a list stays a list; 0 is
    0.0, so an experiment file that wrote 0 keeps the runs it recorded."""
    assert parse_augment({"width_shift_range": 2}).width_shift_range == 2
    assert isinstance(parse_augment({"width_shift_range": 2}).width_shift_range, int)
    assert isinstance(parse_augment({"width_shift_range": 2.0}).width_shift_range, float)
    assert parse_augment({"height_shift_range": [1, 3]}).height_shift_range == [1.0, 3.0]
    assert parse_augment({"zoom_range": [0.9, 1.2]}).zoom_range == [0.9, 1.2]
    zero = parse_augment({"width_shift_range": 0, "zoom_range": 0, "shear_range": 0})
    assert zero.model_dump() == AugmentConfig().model_dump() and zero.is_identity()
    assert parse_augment({"width_shift_range": 0.1}).model_dump()["width_shift_range"] == 0.1


def test_an_augment_that_is_no_table_is_one_line():
    for value in (False, [1], "rotation"):
        with pytest.raises(SpecError, match=r"^f.toml: augment: must be a table of settings \(\[augment\]\), got "):
            parse_augment(value, source="f.toml")


@pytest.mark.parametrize("settings, needle", [
    ({"width_shift_range": True}, "must be a number from 0"),
    ({"width_shift_range": "2"}, "must be a number from 0"),
    ({"width_shift_range": -0.1}, "must be a number from 0"),
    ({"width_shift_range": 10**30}, "must be a number from 0 to 10000"),
    ({"width_shift_range": 10**400}, "must be a number from 0 to 10000"),
    ({"zoom_range": [10**400, 1]}, "at most 100"),
    ({"zoom_range": [0.5, 101]}, "at most 100"),
    ({"height_shift_range": [1] * 10_001}, "random sign"),
    ({"height_shift_range": float("nan")}, "must be a number from 0"),
    ({"height_shift_range": []}, "at least one"),
    ({"height_shift_range": [1, -2]}, "random sign"),
    ({"height_shift_range": [1, "2"]}, "random sign"),
    ({"zoom_range": 1.0}, "in [0, 1)"),
    ({"zoom_range": [0.9]}, "two zoom factors"),
    ({"zoom_range": [0.9, 1.1, 1.2]}, "two zoom factors"),
    ({"zoom_range": [-0.5, 1.2]}, "above 0"),
    ({"zoom_range": [0.9, float("inf")]}, "two zoom factors"),
    ({"zoom_range": {"lo": 0.9}}, "two zoom factors"),
    ({"shear_range": -5}, "augment.shear_range"),
    ({"vertical_flip": "yes"}, "augment.vertical_flip"),
])
def test_wrong_forms_are_one_line_errors(settings, needle):
    with pytest.raises(SpecError) as info:
        parse_augment(settings, source="exp.toml")
    msg = str(info.value)
    assert msg.startswith("exp.toml: augment.") and needle in msg and "\n" not in msg


def test_new_forms_from_an_experiment_file_and_the_command_line(data_dir, tmp_path):
    toml = tmp_path / "exp.toml"
    toml.write_text('[base]\ndataset = "mnist"\n[base.augment]\nwidth_shift_range = 2\nzoom_range = [0.9, 1.1]\n'
                    'shear_range = 10.0\nvertical_flip = true\n')
    out = tmp_path / "aug.png"
    assert main(["show-augment", "--config", str(toml), "--data-dir", str(data_dir), "--out", str(out)]) == 0
    assert main(["show-augment", "--dataset", "mnist", "--data-dir", str(data_dir), "--width-shift-range", "3",
                 "--height-shift-range", "[0.1, 0.2]", "--zoom-range", "[0.8, 1.0]", "--vertical-flip",
                 "--images", "2", "--copies", "2", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cells_recorded_before_shear_and_vertical_flip_keep_their_keys():
    from mnistlab.config import build_run_config, checkpoint_key, run_key

    resolved = build_run_config(None, ["augment.rotation_range=10.0", "augment.width_shift_range=0.1"], {}).resolved()
    before = {**resolved, "augment": {k: v for k, v in resolved["augment"].items()
                                      if k not in ("shear_range", "vertical_flip")}}
    assert run_key(resolved) == run_key(before) and checkpoint_key(resolved) == checkpoint_key(before)
    for setting in ("augment.vertical_flip=true", "augment.shear_range=5.0", "augment.width_shift_range=2"):
        other = build_run_config(None, ["augment.rotation_range=10.0", "augment.width_shift_range=0.1", setting], {})
        assert run_key(other.resolved()) != run_key(resolved)
    two, two_float = (build_run_config(None, [f"augment.width_shift_range={v}"], {}).resolved() for v in ("2", "2.0"))
    assert run_key(two) != run_key(two_float)  # Keras reads them differently: whole pixels, or uniform pixels


def test_forms_that_never_move_the_image_are_none_and_keras_users_python_forms_are_taken():
    """An int shift of 1 is one of 0 .. 0 pixels, as in Keras (a warning says so); [0] and a zoom
    [1, 1] change nothing either: all are 0, no augmentation to run. Tuples and numpy numbers, what
    a Keras user passes from Python, are read as lists and numbers."""
    with pytest.warns(SpecWarning, match=r"augment.width_shift_range = 1 \(an int\) shifts by whole pixels in \(-1, 1\)"):
        one = parse_augment({"width_shift_range": 1})
    assert one.width_shift_range == 0.0 and one.is_identity()
    assert parse_augment({"height_shift_range": [0, 0.0], "zoom_range": [1, 1.0]}).is_identity()
    assert parse_augment({"zoom_range": (0.9, 1.1), "width_shift_range": (1, 2)}).model_dump()["zoom_range"] == [0.9, 1.1]
    assert parse_augment({"width_shift_range": np.int64(3)}).width_shift_range == 3
    assert isinstance(parse_augment({"width_shift_range": np.int64(3)}).width_shift_range, int)
    assert AugmentConfig(rotation_range=20, width_shift_range=[0]) == AugmentConfig(rotation_range=20)  # same key too


@pytest.mark.parametrize("key, value, says", [
    ("rescale", 1 / 255, "gives the model pixels / 255"),
    ("featurewise_center", True, "Normalization layer"),
    ("validation_split", 0.1, "data.validation"),
    ("brightness_range", [0.8, 1.2], "not offered"),
])
def test_image_data_generators_other_arguments_say_what_to_write_instead(key, value, says, tmp_path):
    with pytest.raises(SpecError) as info:
        parse_augment({key: value}, source="exp.toml")
    msg = str(info.value)
    assert msg.startswith(f"exp.toml: augment.{key}: Keras's ImageDataGenerator takes it; ") and says in msg
    assert info.value.path == ("augment", key) and "\n" not in msg
    p = tmp_path / "run.toml"
    p.write_text(f'dataset = "mnist"\nmodel = "seed000-dense"\n[augment]\nrotation_range = 10\n{key} = {value!r}\n'
                 .replace("True", "true"))
    assert main(["train", "--config", str(p), "--no-record"]) == 2  # before anything loads or trains


def test_show_augment_takes_the_files_dataset_and_a_variants_augmentation(data_dir, tmp_path, capsys):
    exp = tmp_path / "exp.toml"
    exp.write_text('[base]\ndataset = "fashion-mnist"\nmodel = "seed000-dense"\n[base.augment]\nrotation_range = 10.0\n'
                   '[[variants]]\nname = "aug"\n[[variants]]\nname = "flips"\n"augment.vertical_flip" = true\n')
    out = tmp_path / "a.png"
    shown = {}

    def preview(*args):
        code = main(["show-augment", "--config", str(exp), "--data-dir", str(data_dir), "--images", "1", "--copies", "1",
                     "--out", str(out), *args])
        shown[args] = (code, capsys.readouterr().err)
        return code

    assert preview("--variant", "flips") == 0 and preview("--variant", "aug", "--dataset", "mnist") == 0
    assert preview() == 2 and 'its variants augment differently: give --variant (one of "aug", "flips")' in shown[()][1]
    assert preview("--variant", "flip") == 2
    assert 'no variant is named "flip" (did you mean "flips"?)' in shown[("--variant", "flip")][1]
    exp.write_text(exp.read_text().replace("rotation_range = 10.0", "rotation_range = 1000.0"))
    assert preview("--variant", "aug") == 2 and "exp.toml:5: [base]: augment.rotation_range" in shown[("--variant", "aug")][1]
    single = tmp_path / "only.toml"
    single.write_text("[augment]\nrotation_range = 10.0\nzoom_range = [1.1]\n")
    assert main(["show-augment", "--config", str(single), "--data-dir", str(data_dir), "--out", str(out)]) == 2
    assert "only.toml:3: augment.zoom_range" in capsys.readouterr().err
    assert main(["show-augment", "--variant", "aug", "--data-dir", str(data_dir), "--out", str(out)]) == 2
    assert "--variant names a variant of the experiment file given as --config" in capsys.readouterr().err


def test_the_preview_title_is_wrapped_not_cut(data_dir):
    cfg = AugmentConfig(rotation_range=10, zoom_range=[0.9, 1.1], width_shift_range=3, height_shift_range=[0.1, 0.2],
                        shear_range=5.0, vertical_flip=True)
    fig = preview_figure(np.zeros((1, 28, 28), np.uint8), cfg, copies=2)
    title = fig._suptitle.get_text()
    assert title.count("\n") >= 2 and title.replace("\n", " ") == describe(cfg)


def test_a_cval_without_the_constant_fill_is_warned_of():
    with pytest.warns(SpecWarning, match='augment.cval = 0.5 fills only with fill_mode = "constant"; "nearest" does not'):
        parse_augment({"cval": 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_augment({"cval": 0.5, "fill_mode": "constant"})
        parse_augment({"fill_mode": "reflect"})


def test_show_augment_reads_a_files_data_beside_it_and_dataset_replaces_missing_data(data_dir, tmp_path, monkeypatch,
                                                                                       capsys):
    from test_userdata import four_images, write_csv

    sub = tmp_path / "sub"
    sub.mkdir()
    write_csv(sub / "train.csv", four_images(), [0, 1, 0, 1])
    (sub / "run.toml").write_text('dataset = { csv = "train.csv" }\nmodel = "seed000-dense"\n[augment]\nzoom_range = 0.1\n')
    (sub / "aug.toml").write_text('dataset = { csv = "train.csv" }\n[augment]\nzoom_range = 0.1\n')
    monkeypatch.chdir(tmp_path)  # not beside the files
    out = tmp_path / "a.png"
    for name in ("run.toml", "aug.toml"):
        assert main(["show-augment", "--config", str(sub / name), "--images", "2", "--copies", "1", "--out", str(out)]) == 0
    (sub / "train.csv").unlink()  # the file's data is not on this machine: --dataset stands in for it
    assert main(["show-augment", "--config", str(sub / "run.toml"), "--dataset", "mnist", "--data-dir", str(data_dir),
                 "--images", "1", "--copies", "1", "--out", str(out)]) == 0
    capsys.readouterr()


def test_a_warning_is_said_once_per_command_however_often_the_config_is_validated(data_dir, tmp_path, capsys):
    exp = tmp_path / "cv.toml"
    exp.write_text('[base]\ndataset = "mnist"\nmodel = "seed000-dense"\ndata = { subset = 120 }\ntrain = { epochs = 1 }\n'
                   'augment = { cval = 0.5 }\n[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    for _ in range(2):  # and again by the next command
        assert main(["run", str(exp), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
        assert capsys.readouterr().err.count('augment.cval = 0.5 fills only with fill_mode = "constant"') == 1


@pytest.mark.parametrize(("written", "said"), [
    ("augment = { RandomRotation = 0.1 }", "augment.RandomRotation: Keras 3's layer; its factor f turns by up to f x 360 "
                                           "degrees; here rotation_range = 360 f"),
    ('augment = { RandomFlip = "horizontal" }', 'horizontal_flip = true for "horizontal"'),
    ("augment = { RandomZoom = 0.1 }", "RandomZoom's zoom that keeps the aspect ratio is not offered"),
    ("augment = { RandomErasing = 0.5 }", "RandomErasing(factor=f) is about random_erasing = f / 2"),
    ("augment = { fill_value = 0.0 }", "augment.fill_value: cval is ImageDataGenerator's"),
    ("augment = { cutout = 8 }", "random_erasing = p blanks one random rectangle"),
    ('augment = [{ type = "RandomRotation", factor = 0.1 }]', "RandomRotation(0.1) is rotation_range = 36"),
    ('augment = { type = "RandomRotation" }', "not a Keras 3 layer: RandomRotation(0.1) is rotation_range = 36"),
    ("augment = { random_rotation = 0.1 }", "augment.random_rotation: Keras 3's layer; its factor f turns"),
    ("augment = { rotation_range = [-0.1, 0.1] }", "Keras 3's RandomRotation factor: rotation_range = 360 x the larger"),
    ("augment = { cval = 2 }", "must be between 0 (the background, no ink) and 1 (full ink)"),
    ("augment = { RandomShear = 0.2 }", "RandomShear(0.2) is about shear_range = 11.3, atan(0.2)"),
])
def test_keras_3_augmentation_words_say_what_to_write_here(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           written: str, said: str) -> None:
    """helper-235: Keras 3's preprocessing layers, its fill_value and cutout got "unknown key" with no way across."""
    path = tmp_path / "a.toml"
    path.write_text(f'name = "a"\n[base]\ndataset = "mnist"\nmodel = {{ dense = [8] }}\n{written}\n')
    assert main(["run", str(path), "--dry-run", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and said in err, err


@pytest.mark.parametrize(("dataset", "written", "said"), [
    ("mnist", "rotation_range = 0.1", "augment.rotation_range = 0.1 turns by at most 0.1 of a degree (degrees, as "
                                      "ImageDataGenerator takes it; Keras 3's RandomRotation(0.1) is rotation_range = 36)"),
    ("mnist", "shear_range = 0.2", "0.2 was about 11.5 degrees"),
    ("mnist", "horizontal_flip = true", "augment.horizontal_flip on mnist: a mirrored digit or letter is another mark"),
    ("mnist", "vertical_flip = true", "augment.vertical_flip on mnist"),
    ("fashion-mnist", "horizontal_flip = true", None),  # clothes: the flip is theirs
    ("mnist", "rotation_range = 10", None),
])
def test_settings_that_likely_mean_something_else_are_warned_of_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str, written: str, said: str | None) -> None:
    """helper-235: rotation_range = 0.1 (Keras 3's factor, 36 degrees) and a training flip on MNIST trained unsaid."""
    path = tmp_path / "a.toml"
    path.write_text(f'name = "a"\n[base]\ndataset = "{dataset}"\nmodel = {{ dense = [8] }}\naugment = {{ {written} }}\n')
    assert main(["run", str(path), "--dry-run", "--store", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    if said is None:
        assert "warning" not in err, err
    else:
        assert f"warning: {path}: [base]: " in err and said in err, err


def test_show_augment_warns_of_what_training_would(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   data_dir: Path) -> None:
    """helper-238: `show-augment --rotation-range 0.1 --horizontal-flip` on MNIST drew without the
    warnings `train` gives for the same settings."""
    assert main(["show-augment", "--dataset", "mnist", "--rotation-range", "0.1", "--horizontal-flip",
                 "--data-dir", str(data_dir), "--images", "1", "--copies", "1", "-o", str(tmp_path / "a.png")]) == 0
    err = capsys.readouterr().err
    assert "warning: augment.horizontal_flip on mnist" in err and "augment.rotation_range = 0.1 turns" in err
