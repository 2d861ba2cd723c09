"""The fused kernel for a CNN's first block (mnistlab.accel.conv_pool): torch's numbers, and a safe fallback.

The kernel is compiled on first use into the test session's cache. Where the machine has a C
compiler it must build: a kernel that silently falls back there would make these tests pass while
testing nothing, so they fail instead. Only a machine without any compiler skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mnistlab.accel import conv_pool
from mnistlab.datasets import cache_dir
from mnistlab.models import build_model
from mnistlab.specs import Conv2D, Dense, Flatten, GlobalAveragePooling2D, MaxPooling2D, ModelSpec


@pytest.fixture
def kernel() -> None:
    """The kernel must be on (or, on a machine with no C compiler at all, the test is skipped)."""
    if conv_pool.enabled():
        return
    if os.environ.get("MNISTLAB_NATIVE") == "0":
        pytest.skip("MNISTLAB_NATIVE=0 turns the kernel off")
    if shutil.which("cc") is None:
        pytest.skip(f"no C compiler on this machine: {conv_pool.status()}")
    pytest.fail(f"a C compiler is here but the kernel is {conv_pool.status()}")


@pytest.fixture
def fresh_native(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A first use of the kernel in an empty cache; the process's loaded kernel is put back after."""
    monkeypatch.setattr(conv_pool, "_lib", None)
    monkeypatch.setattr(conv_pool, "_status", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return conv_pool


def _model(filters: int = 32, kernel_size: int = 3, padding: str = "valid", seed: int = 0) -> torch.nn.Module:
    spec = ModelSpec(layers=(Conv2D(filters, kernel_size, padding=padding, activation="relu"), MaxPooling2D(2),
                             Flatten(), Dense(10, activation="softmax")))
    return build_model(spec, seed=seed).to(memory_format=torch.channels_last)


def _images(n: int = 16, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
    x[:, :9, :9] = 0  # a flat background, as in Fashion-MNIST: exact ties in the pooling windows
    return (x.float() / 255).unsqueeze(1).contiguous(memory_format=torch.channels_last)


def _logits_and_grads(model: torch.nn.Module, x: torch.Tensor, bf16: bool = False, use_kernel: bool = True):
    model.zero_grad()
    y = torch.arange(len(x)) % 10
    forward = conv_pool.FusedForward(model, autocast_dtype=torch.bfloat16 if bf16 else None, use_kernel=use_kernel)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = forward(x)
    ran = forward.kernel_calls
    F.cross_entropy(logits.float(), y).backward()
    return logits.detach().float(), [p.grad.clone() for p in model.parameters()], ran


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


@pytest.mark.usefixtures("kernel", "two_threads")
@pytest.mark.parametrize(("filters", "kernel_size", "padding"),
                         [(16, 3, "valid"), (64, 3, "valid"), (32, 3, "same"), (16, 4, "same"), (32, 5, "valid")])
def test_kernel_matches_torch_in_float32(filters: int, kernel_size: int, padding: str) -> None:
    # kernel 4 "same" pads asymmetrically (TF puts the extra pixel right/bottom); kernel 5 leaves
    # an odd 24 -> 12, kernel 4 valid would leave 25, whose last row the pool drops.
    model, x = _model(filters, kernel_size, padding), _images()
    fast, fast_grads, ran = _logits_and_grads(model, x)
    slow, slow_grads, _ = _logits_and_grads(model, x, use_kernel=False)
    assert ran == 1
    assert torch.allclose(fast, slow, atol=1e-5)
    assert all(_rel_err(a, b) < 1e-4 for a, b in zip(fast_grads, slow_grads))


@pytest.mark.usefixtures("kernel")
def test_kernel_with_an_odd_conv_output_drops_the_last_row_as_torch_does() -> None:
    spec = ModelSpec(layers=(Conv2D(16, 4, activation="relu"), MaxPooling2D(2), Flatten(), Dense(10)))
    model, x = build_model(spec, seed=1).to(memory_format=torch.channels_last), _images()  # 25x25 -> 12x12
    fast, fast_grads, ran = _logits_and_grads(model, x)
    slow, slow_grads, _ = _logits_and_grads(model, x, use_kernel=False)
    assert ran == 1 and torch.allclose(fast, slow, atol=1e-5)
    assert all(_rel_err(a, b) < 1e-4 for a, b in zip(fast_grads, slow_grads))


@pytest.mark.usefixtures("kernel")
def test_kernel_in_bf16_gives_torch_outputs_and_exact_weight_gradients() -> None:
    """Under bf16 autocast the block's output is torch's, and its weight gradient is the exact one:
    torch rounds the conv's weight gradient to bf16 (a few % off); the kernel sums in float32."""
    model, x = _model(64), _images(32)
    conv = model[0]
    with torch.no_grad():
        conv.bias.copy_(torch.randn(64, generator=torch.Generator().manual_seed(4)) * 0.1)  # not bf16-exact
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ours = conv_pool.conv_pool_relu(conv, x, conv.zero_pads(), torch.bfloat16)
            theirs = torch.relu(F.max_pool2d(conv.conv_forward(x), 2, 2))
    # The block's own output: torch's, but where a window's two largest values round to one bf16
    # (the kernel compares them before rounding): about one element in 700,000, one rounding step.
    assert ours.dtype == theirs.dtype == torch.bfloat16
    assert (ours != theirs).float().mean() < 1e-4
    assert torch.allclose(ours.float(), theirs.float(), rtol=2 ** -7, atol=0)
    fast, fast_grads, ran = _logits_and_grads(model, x, bf16=True)
    slow, slow_grads, _ = _logits_and_grads(model, x, bf16=True, use_kernel=False)
    assert ran == 1
    assert torch.allclose(fast, slow, atol=2e-2)  # bf16 logits: a rounding step apart at most
    # The exact gradient, in float64, of the same computation on the same bf16-rounded numbers.
    w = conv.weight.detach().to(torch.bfloat16).double().requires_grad_()
    b = conv.bias.detach().to(torch.bfloat16).double().requires_grad_()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = torch.relu(F.max_pool2d(conv.conv_forward(x), 2, 2))
    pooled.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model[3](model[2](pooled)).float(), torch.arange(len(x)) % 10)
    (upstream,) = torch.autograd.grad(loss, pooled)
    exact = torch.relu(F.max_pool2d(F.conv2d(x.double().to(torch.bfloat16).double(), w, b), 2, 2))
    exact.backward(upstream.double())
    assert _rel_err(fast_grads[0], w.grad) < 1e-4 and _rel_err(fast_grads[1], b.grad) < 1e-4
    assert _rel_err(slow_grads[0], w.grad) > 10 * _rel_err(fast_grads[0], w.grad)  # what the kernel improves


@pytest.mark.usefixtures("kernel")
@pytest.mark.parametrize(("first", "second"), [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
def test_tied_windows_send_the_gradient_to_the_first_maximum_as_torch_does(first: int, second: int) -> None:
    # Only the centre tap is non-zero, and in every pooling window the centre pixels under two window
    # positions (0-3, row by row) are equal and largest, so both give the window's output. The other
    # taps' gradients depend on which position receives the gradient: they match torch only if the
    # kernel picks the first of the two, as torch does.
    model = _model(16)
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[:, :, 1, 1] = torch.linspace(0.5, 1.5, 16)[:, None]
        model[0].bias.zero_()
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 0.5
    for p in (first, second):  # position p = (a, b) of the window at (i, j) sees pixel (2i + a + 1, 2j + b + 1)
        a, b = divmod(p, 2)
        x[:, :, 1 + a : 27 + a : 2, 1 + b : 27 + b : 2] = 0.9
    x = x.contiguous(memory_format=torch.channels_last)
    fast, fast_grads, ran = _logits_and_grads(model, x)
    slow, slow_grads, _ = _logits_and_grads(model, x, use_kernel=False)
    assert ran == 1 and torch.allclose(fast, slow, atol=1e-5)
    assert _rel_err(fast_grads[0], slow_grads[0]) < 1e-5


@pytest.mark.usefixtures("kernel")
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_weight_makes_the_output_non_finite_so_divergence_is_seen(bad: float) -> None:
    model = _model(16)
    with torch.no_grad():
        model[0].weight[3, 0, 0, 0] = bad
    x = _images(4) * 0.5 + 0.25  # no zero pixels: inf * 0 would make NaN by itself
    for bf16 in (False, True):
        forward = conv_pool.FusedForward(model, autocast_dtype=torch.bfloat16 if bf16 else None)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = forward(x)
        assert forward.kernel_calls == 1
        assert torch.isnan(out).any() if bad != bad else not torch.isfinite(out).all()


@pytest.mark.usefixtures("kernel")
def test_the_kernel_applies_only_to_the_block_it_was_written_for() -> None:
    def applies(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None = None) -> bool:
        return conv_pool.applies(model[0], model[1], x, autocast_dtype=dtype)

    x = _images(4)
    assert applies(_model(16), x) and applies(_model(16), x, torch.bfloat16)
    assert not applies(_model(10), x)  # channels not a multiple of 16
    assert not applies(_model(16), x, torch.float16)
    assert not applies(_model(16), x.clone().requires_grad_())  # e.g. a saliency map wants d(out)/d(x)
    assert not applies(_model(16), x.double())
    strided = build_model(ModelSpec(layers=(Conv2D(16, 3, strides=2, activation="relu"), MaxPooling2D(2),
                                            Flatten(), Dense(10)))).to(memory_format=torch.channels_last)
    assert not applies(strided, x)
    rgb = build_model(ModelSpec(layers=(Conv2D(16, 3, activation="relu"), MaxPooling2D(2), Flatten(), Dense(10)),
                                input_shape=(28, 28, 3)))
    assert not applies(rgb, torch.rand(2, 3, 28, 28))
    hooked = _model(16)
    hooked[0].register_forward_hook(lambda *_: None)
    assert not applies(hooked, x)
    on_meta = _model(16)
    on_meta[0].to("meta")  # parameters elsewhere than the CPU: torch's ops say what is wrong
    assert not applies(on_meta, x)
    with conv_pool.disabled():  # the block still qualifies, but a forward made now runs torch's ops
        assert applies(_model(16), x) and not conv_pool.FusedForward(_model(16)).uses_kernel


@pytest.mark.usefixtures("kernel")
@pytest.mark.parametrize("pool", [MaxPooling2D(3), MaxPooling2D(3, strides=2), MaxPooling2D(2, strides=1),
                                  MaxPooling2D((2, 3))])
def test_other_max_pools_run_on_torch_and_give_torch_numbers(pool: MaxPooling2D) -> None:
    # GlobalAveragePooling2D takes any size, so a wrongly fused pool would give numbers, not an error.
    spec = ModelSpec(layers=(Conv2D(16, 3, activation="relu"), pool, GlobalAveragePooling2D(), Dense(10)))
    model, x = build_model(spec, seed=2).to(memory_format=torch.channels_last), _images(4)
    fast, _, ran = _logits_and_grads(model, x)
    slow, _, _ = _logits_and_grads(model, x, use_kernel=False)
    assert ran == 0 and torch.equal(fast, slow)


@pytest.mark.usefixtures("kernel")
def test_feature_maps_still_show_each_layer_as_keras_computes_it() -> None:
    model, x = _model(16), _images(2)
    with torch.no_grad():
        pooled = model[1](model[0](x))  # layer by layer, as the feature-map figures call them
        fused = conv_pool.conv_pool_relu(model[0], x, model[0].zero_pads())
    assert torch.allclose(pooled, fused, atol=1e-6)


@pytest.mark.usefixtures("kernel")
def test_training_on_the_kernel_repeats_exactly_and_is_recorded(data_dir) -> None:
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    def run(model: str, precision: str = "auto"):
        cfg = parse_run_config({"dataset": "fashion-mnist", "model": model, "data": {"subset": 256},
                                "train": {"epochs": 2, "seed": 5, "precision": precision}})
        return run_config(cfg, data_dir=data_dir, progress="none")

    def numbers(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in e.items() if k not in ("epoch_seconds", "images_per_second")} for e in history]

    first, second = run("seed000-ex1"), run("seed000-ex1")
    assert first.env["native_kernel"] == "on"
    assert numbers(first.history) == numbers(second.history) and first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert run("seed000-dense").env["native_kernel"] == "not applicable"
    with conv_pool.disabled():
        off = run("seed000-ex1", "float32")
    on = run("seed000-ex1", "float32")
    assert off.env["native_kernel"] == "off: turned off by mnistlab.accel.conv_pool.disabled()"
    assert on.env["native_kernel"] == "on"
    # float32: the same training to float rounding, with or without the kernel
    assert abs(on.history[0]["loss"] - off.history[0]["loss"]) < 1e-4 * off.history[0]["loss"]


# ------------------------------------------------------------------------ building and loading
def test_first_use_builds_into_the_cache_and_later_uses_load_it(fresh_native, kernel) -> None:
    assert fresh_native.status() == "on"
    built = fresh_native._cached_library_path()
    assert built.is_file() and built.is_relative_to(cache_dir())
    stamp = built.stat().st_mtime_ns
    fresh_native._lib, fresh_native._status = None, None
    assert fresh_native.status() == "on" and built.stat().st_mtime_ns == stamp  # loaded, not rebuilt


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "no digest"])
def test_a_damaged_cached_library_is_rebuilt(fresh_native, kernel, damage: str, tmp_path: Path) -> None:
    # A truncated library would not fail to load: it would kill the process with SIGBUS.
    assert fresh_native.status() == "on"
    path = fresh_native._cached_library_path()
    good = path.read_bytes()
    if damage == "no digest":
        fresh_native._digest_path(path).unlink()
    else:  # a new file in its place: this process has the old one mapped, and writing into it would crash it
        bad = path.with_suffix(".bad")
        bad.write_bytes({"garbage": b"\x7fELF not really" * 50, "truncated": good[: len(good) // 3], "empty": b""}[damage])
        bad.replace(path)
    # A new process (this one would reuse the library it has loaded from that path).
    script = "from mnistlab.accel import conv_pool; print(conv_pool.status())"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert out.stdout.strip() == "on", out.stderr
    assert path.read_bytes() == good  # rebuilt: the same compiler and source give the same library


@pytest.mark.parametrize(("env", "reason"), [
    ({"MNISTLAB_NATIVE": "0"}, "off: MNISTLAB_NATIVE=0"),
    ({"CC": "/nonexistent/cc"}, "off: no C compiler ('/nonexistent/cc' not found; set CC)"),
    ({"CC": "false"}, "off: the C compiler failed"),
    ({"CC": "   "}, "off: no C compiler"),
    ({"CC": "sh -c 'printf \"\\377\\376 bad bytes\\n\" >&2; exit 1' cc"}, "off: the C compiler failed: \ufffd\ufffd bad bytes"),
])
def test_without_a_working_compiler_models_run_on_torch(fresh_native, monkeypatch: pytest.MonkeyPatch,
                                                       env: dict[str, str], reason: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    model, x = _model(16), _images(4)
    logits, _, ran = _logits_and_grads(model, x)
    assert ran == 0 and fresh_native.status().startswith(reason)
    assert "\n" not in fresh_native.status()
    with conv_pool.disabled():
        assert torch.equal(logits, model(x).detach())


def test_a_compiler_given_with_arguments_is_used(fresh_native, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("CC", "cc -std=gnu11")  # as "ccache gcc" would be: a command line, not a path
    assert not fresh_native._cached_library_path().exists()
    assert fresh_native.status() == "on" and fresh_native._cached_library_path().is_file()


def test_a_missing_kernel_source_leaves_the_kernel_off(fresh_native, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(fresh_native, "SOURCE", tmp_path / "gone.c")  # e.g. an install that left the .c out
    assert fresh_native.status() == f"off: the kernel's source is not installed ({tmp_path / 'gone.c'})"
    assert _model(16)(_images(2)).shape == (2, 10)


def test_an_unwritable_cache_leaves_the_kernel_off_with_the_reason(fresh_native, monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert fresh_native.status().startswith("off: cannot write to ")
    model = _model(16)
    assert model(_images(2)).shape == (2, 10)  # torch's ops, as before


def _ex1_run(data_dir: Path, checkpoint_dir: Path, epochs: int, **kw):
    """seed000-ex1 (its first block fits the kernel) on 96 images, checkpointed each epoch."""
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-ex1", "data": {"subset": 96},
                            "train": {"epochs": epochs, "threads": 1}})
    return run_config(cfg, data_dir=data_dir, progress="none", checkpoint_dir=checkpoint_dir, **kw)


@pytest.mark.usefixtures("kernel")
def test_resuming_with_the_kernel_switched_warns_that_numbers_will_differ(data_dir, tmp_path) -> None:
    from mnistlab.errors import SpecWarning

    _ex1_run(data_dir, tmp_path, 1)  # the kernel on
    with conv_pool.disabled(), pytest.warns(SpecWarning, match="trained with mnistlab's native kernel and this run "
                                                            "does not use it"):
        resumed = _ex1_run(data_dir, tmp_path, 2, resume=True)
    assert resumed.metrics["resumed_from_epoch"] == 1 and resumed.env["native_kernel"].startswith("off")
    with pytest.warns(SpecWarning, match="trained without mnistlab's native kernel and this run uses it"):
        _ex1_run(data_dir, tmp_path, 3, resume=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)  # on, as the last checkpoint was: silent
        _ex1_run(data_dir, tmp_path, 4, resume=True)


@pytest.mark.usefixtures("kernel")
def test_resuming_a_checkpoint_from_before_the_kernel_warns(data_dir, tmp_path) -> None:
    from mnistlab.errors import SpecWarning

    _ex1_run(data_dir, tmp_path, 1)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    del state["native_kernel"]  # what mnistlab 0.2 wrote: it had no kernel
    torch.save(state, tmp_path / "last.pt")
    with pytest.warns(SpecWarning, match="trained without mnistlab's native kernel and this run uses it"):
        _ex1_run(data_dir, tmp_path, 2, resume=True)
