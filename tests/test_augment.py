"""Augmentation: exact geometry on known images, seeding, vectorisation, and the preview command."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnistlab.augment import Augmenter, affine_theta, augment_batch, erase_mask, preview_figure, sample_params
from mnistlab.cli import main
from mnistlab.config import AugmentConfig


def blob(n=4, size=28):
    """Images with an off-centre bright square: any geometric change moves it."""
    x = torch.zeros(n, 1, size, size)
    x[:, :, 4:10, 6:14] = 1.0
    return x


def warp(x, **params):
    n = x.shape[0]
    full = {"angle": torch.zeros(n), "zoom_x": torch.ones(n), "zoom_y": torch.ones(n), "shift_x": torch.zeros(n),
            "shift_y": torch.zeros(n), "flip": torch.zeros(n, dtype=torch.bool)}
    full.update({k: torch.as_tensor(v).expand(n).clone() for k, v in params.items()})
    grid = F.affine_grid(affine_theta(full, x.shape[2], x.shape[3]), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def test_identity_params_give_the_same_image():
    x = blob()
    torch.testing.assert_close(warp(x), x)


def test_whole_pixel_shift_moves_the_image_exactly():
    x = blob()
    out = warp(x, shift_x=torch.tensor(3 / 28), shift_y=torch.tensor(-2 / 28))
    # input = output + shift: the content moves by -shift (left 3, down 2)
    torch.testing.assert_close(out, torch.roll(x, shifts=(2, -3), dims=(2, 3)))


def test_flip_and_quarter_turn_are_exact():
    x = blob()
    torch.testing.assert_close(warp(x, flip=torch.tensor(True)), x.flip(-1))
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
    assert p["shift_x"].abs().max() <= 0.2 and p["shift_y"].abs().max() <= 0.05
    assert 0.45 < p["flip"].float().mean() < 0.55


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


def test_batch_equals_per_image_application():
    cfg = AugmentConfig(rotation_range=30, zoom_range=0.2, width_shift_range=0.1, height_shift_range=0.1,
                        horizontal_flip=True)
    x = blob(6)
    x[3] = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1))
    batch = augment_batch(x, cfg, torch.Generator().manual_seed(5))
    p = sample_params(6, cfg, torch.Generator().manual_seed(5))
    for i in range(6):
        one = {k: v[i : i + 1] for k, v in p.items()}
        grid = F.affine_grid(affine_theta(one, 28, 28), [1, 1, 28, 28], align_corners=False)
        ref = F.grid_sample(x[i : i + 1], grid, mode="bilinear", padding_mode="border", align_corners=False)
        torch.testing.assert_close(batch[i : i + 1], ref)


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
])
def test_show_augment_bad_input(args, needle, data_dir, tmp_path, capsys):
    code = main(["show-augment", "--data-dir", str(data_dir), "--out", str(tmp_path / "a.png"), *args])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and "Traceback" not in err


def test_show_augment_config_without_augment(tmp_path, data_dir, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('dataset = "mnist"\n')
    assert main(["show-augment", "--config", str(bad), "--data-dir", str(data_dir)]) == 2
    assert "no [augment]" in capsys.readouterr().err
    bad.write_text('[augment]\nrotaton_range = 3\n')
    assert main(["show-augment", "--config", str(bad), "--data-dir", str(data_dir)]) == 2
    assert 'did you mean "rotation_range"' in capsys.readouterr().err
