"""The conv -> ReLU -> max-pool blocks of a CNN, computed faster: a forward the Plan swaps in.

Two substitutions, both chosen once per fit by :func:`mnistlab.accel.plan` and recorded in the
run's ``env.native_kernel``; the model itself stays a plain ``nn.Sequential`` whose ``model(x)``
and hooks keep torch's semantics:

1. **Pool before ReLU.** ``Conv2D(relu) -> MaxPooling2D`` (unpadded) is computed as conv -> max-pool
   -> ReLU: the same values and gradients (max and relu are both monotone; relu(max(x)) ==
   max(relu(x)), and the gradient is zero either way where the window max is <= 0), with 4x fewer
   elements through ReLU and its backward (measured ~25% of a seed-000 CNN step).
2. **A native kernel for a CNN's first block**: Conv2D(1 -> C channels, relu) + MaxPooling2D(2).
   torch runs that block as conv, max-pool and ReLU over a tensor four times the size of the
   block's output, and max-pooling's backward fills and scatters into it element by element: ~30%
   of a seed-000 CNN training step on a 2-core CPU. ``_native/conv_pool.c`` computes each pooled
   output straight from its input window instead (BENCHMARKS.md has the figures).

There is no build step at install time. The first time a model needs the kernel, mnistlab compiles
the C file with the machine's C compiler (``$CC``, else ``cc``; about half a second) for this very
CPU (``-march=native``) into the user cache, and later processes load it from there. Where that
cannot happen (no compiler, not Linux, torch not on GNU OpenMP, ``MNISTLAB_NATIVE=0``), models
run torch's ops as before: the kernel changes speed, not results beyond float rounding. ``status()``
says which.

    from mnistlab.accel import conv_pool
    conv_pool.status()                           # "on" or "off: <why>"
    forward = conv_pool.FusedForward(model, autocast_dtype=None)
    logits = forward(x)                          # model(x), to float rounding
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeGuard, cast

import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.accel.hooks import has_hooks
from mnistlab.datasets import cache_dir
from mnistlab.models import Conv2D, Pool2D

SOURCE = Path(__file__).with_name("_native") / "conv_pool.c"
# Compiled with OpenMP but linked without an OpenMP library: the kernel's GOMP_* calls bind, when it is
# loaded, to the runtime torch loaded (globally), so both share one pool of threads.
COMPILE = ("-O3", "-march=native", "-fopenmp", "-fPIC", "-Wno-psabi", "-c")
LINK = ("-shared",)
BLOCK = 16  # the kernel works on 16 channels at a time

_lib: ctypes.CDLL | None = None
_status: str | None = None  # None until the first attempt; then "on" or "off: <reason>"
_turned_off = 0  # depth of `disabled()` blocks
DISABLED = "off: turned off by mnistlab.accel.conv_pool.disabled()"


def status() -> str:
    """``"on"`` when the kernel is in use, else ``"off: <reason>"``; builds or loads it on first call."""
    _load()
    return _status or "off"


def enabled() -> bool:
    """Whether the kernel is available in this process (builds or loads it on first call)."""
    return _load() is not None


@contextmanager
def disabled() -> Iterator[None]:
    """Plans made inside the block use torch's ops instead of the kernel (comparisons, benchmarks)."""
    global _turned_off
    _turned_off += 1
    try:
        yield
    finally:
        _turned_off -= 1


def kernel_status() -> str:
    """What a plan made now gets: ``"on"``, ``DISABLED`` inside :func:`disabled`, else ``status()``."""
    return DISABLED if _turned_off else status()


def _load() -> ctypes.CDLL | None:
    global _lib, _status
    if _status is None:
        try:
            _lib, _status = _build_and_load(), "on"
        except _Unavailable as why:
            _lib, _status = None, f"off: {why}"
        except Exception as exc:  # anything else on the way (a home-less user, a zipped install...): torch's ops
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            _lib, _status = None, f"off: {type(exc).__name__}: {first}"
    return _lib


class _Unavailable(Exception):
    """Why the kernel cannot be used here (a one-line reason for ``status()``)."""


def _build_and_load() -> ctypes.CDLL:
    if os.environ.get("MNISTLAB_NATIVE", "1") == "0":
        raise _Unavailable("MNISTLAB_NATIVE=0")
    if platform.system() != "Linux":
        raise _Unavailable(f"only built on Linux, not {platform.system()}")
    if not torch.backends.openmp.is_available():
        raise _Unavailable("this torch build has no OpenMP")
    if not SOURCE.is_file():
        raise _Unavailable(f"the kernel's source is not installed ({SOURCE})")
    path = _cached_library_path()
    if not _intact(path):
        _compile(path)
    before = _openmp_libraries()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise _Unavailable(f"cannot load {path}: {exc}") from None
    if _openmp_libraries() - before:
        # The kernel's threads must be torch's: a second OpenMP runtime would fight it for the cores.
        raise _Unavailable("torch does not use the compiler's OpenMP runtime (libgomp)")
    _declare(lib)
    return lib


def _cpu_identity() -> str:
    """What -march=native compiles for: the CPU's model and feature flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    wanted = [line for line in lines if line.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(wanted)) + platform.machine()


def _cached_library_path() -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(COMPILE + LINK).encode() + _cpu_identity().encode()).hexdigest()[:16]
    return cache_dir() / "native" / key / "conv_pool.so"


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _intact(path: Path) -> bool:
    """Whether the cached library is the one that was built. Loading a truncated library does not
    raise but crashes the process (SIGBUS), so its bytes are checked against the digest written
    beside it at build time before it is ever loaded."""
    try:
        return _digest_path(path).read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return False


def _compile(path: Path) -> None:
    cc = shlex.split(os.environ.get("CC") or "cc")  # CC may carry a wrapper or flags: "ccache gcc"
    if not cc or shutil.which(cc[0]) is None:
        raise _Unavailable(f"no C compiler ({' '.join(cc)!r} not found; set CC)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent))
    except OSError as exc:
        raise _Unavailable(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    try:
        obj, lib = tmp / "conv_pool.o", tmp / "conv_pool.so"
        for args in ([*COMPILE, "-o", obj, SOURCE], [*LINK, "-o", lib, obj]):
            proc = subprocess.run([*cc, *map(str, args)], capture_output=True, timeout=120)
            if proc.returncode != 0:
                first = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
                raise _Unavailable(f"the C compiler failed: {first[:200]}")
        digest = tmp / "digest"
        digest.write_text(hashlib.sha256(lib.read_bytes()).hexdigest())
        # Each replace is atomic; a process that reads between the two sees a mismatch and rebuilds.
        os.replace(lib, path)
        os.replace(digest, _digest_path(path))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Unavailable(f"the C compiler could not run: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _openmp_libraries() -> set[str]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in maps.splitlines() if "omp" in line.rsplit("/", 1)[-1] and "/" in line}


def _declare(lib: ctypes.CDLL) -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.conv_pool_relu_forward.argtypes = [p, p, p, p, p, i, i, i, i, i, i, i, i]
    lib.conv_pool_relu_forward.restype = None
    lib.conv_pool_relu_backward.argtypes = [p, p, p, p, p, p, i, i, i, i, i, i, i, i]
    lib.conv_pool_relu_backward.restype = None


# ---------------------------------------------------------------------------------------------
# Which blocks qualify, the forward that uses them, and the autograd function around the kernel
# ---------------------------------------------------------------------------------------------
def pool_commutes(module: nn.Module, nxt: nn.Module) -> TypeGuard[Conv2D]:
    """A Conv2D with ReLU followed by an unpadded max pool: the pair whose ReLU can follow the pool."""
    return (isinstance(module, Conv2D) and type(module.activation) is nn.ReLU
            and isinstance(nxt, Pool2D) and nxt.kind == "max" and nxt.pads is None)


def applies(conv: nn.Conv2d, pool: nn.Module, x: torch.Tensor | None = None,
            autocast_dtype: torch.dtype | None = None, *, ignore_hooks: bool = False) -> bool:
    """Whether ``relu(pool(conv(x)))`` can run on the kernel: a stride-1 conv with a multiple of 16
    filters of a 1-channel float32 CPU image batch that needs no gradient, then a 2x2 max pool with
    stride 2; float32 or bf16 autocast (``autocast_dtype``); no hooks on either module. ``x`` None
    checks the block alone (what a plan knows before any batch); ``ignore_hooks`` leaves the hooks
    out (whether the block would qualify without them). Says nothing of whether the kernel is built
    here: see :func:`kernel_status`."""
    if x is not None and not _input_fits(x):
        return False
    params = [conv.weight] if conv.bias is None else [conv.weight, conv.bias]
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        return False  # torch's ops then raise their own clear error for mixed devices
    if tuple(getattr(pool, "kernel_size", ())) != (2, 2) or tuple(getattr(pool, "stride", ())) != (2, 2):
        return False
    if (conv.in_channels != 1 or conv.out_channels % BLOCK or conv.stride != (1, 1) or conv.dilation != (1, 1)
            or conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str)):
        return False
    return autocast_dtype in (None, torch.bfloat16) and (ignore_hooks or not has_hooks(conv, pool))


def _input_fits(x: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4 and x.shape[1] == 1
            and not x.requires_grad)


class FusedForward:
    """``model(x)`` with each qualifying conv -> ReLU -> max-pool block computed faster.

    Built once per fit (by the Plan) from a plain model: blocks where :func:`pool_commutes` holds
    run pool-before-ReLU on torch's ops, or on the native kernel where :func:`applies` holds, the
    kernel is built and ``use_kernel``. ``autocast_dtype`` is the autocast the caller runs it
    under (the kernel rounds its inputs as bf16 autocast would). A batch the kernel cannot take
    (one that requires grad, say) runs that block on torch's ops. ``kernel_calls`` counts the
    blocks that ran on the kernel. Inputs (N, C, H, W) or (N, H, W), as the model takes them.
    """

    def __init__(self, model: nn.Module, *, autocast_dtype: torch.dtype | None = None, use_kernel: bool = True) -> None:
        self.model = model
        self.bf16 = autocast_dtype == torch.bfloat16
        self.kernel_calls = 0
        modules = list(model.children())
        self.stages: list[tuple[str, nn.Module, nn.Module | None]] = []
        self.qualifying = 0  # blocks the kernel could take, whether it is used or not
        i = 0
        while i < len(modules):
            module = modules[i]
            if i + 1 < len(modules) and pool_commutes(module, modules[i + 1]):
                fits = applies(module, modules[i + 1], autocast_dtype=autocast_dtype, ignore_hooks=True)
                self.qualifying += fits
                usable = fits and use_kernel and not has_hooks(module, modules[i + 1])
                kind = "kernel" if usable and kernel_status() == "on" else "pool_relu"
                self.stages.append((kind, module, modules[i + 1]))
                i += 2
            else:
                self.stages.append(("module", module, None))
                i += 1
        self.uses_kernel = any(kind == "kernel" for kind, _, _ in self.stages)

    @property
    def fuses(self) -> bool:
        """Whether any block runs differently from ``model(x)``."""
        return any(kind != "module" for kind, _, _ in self.stages)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        for kind, module, pool in self.stages:
            if kind == "module":
                x = module(x)
            elif kind == "kernel" and _input_fits(x):
                self.kernel_calls += 1
                conv = cast(Conv2D, module)  # a fused stage: a Conv2D and its max pool (pool_commutes)
                x = _ConvPoolReLU.apply(x, conv.weight, conv.bias, conv.zero_pads(), self.bf16)
            else:
                x = torch.relu(cast(Pool2D, pool)(cast(Conv2D, module).conv_forward(x)))  # as above
        return x


def conv_pool_relu(conv: nn.Conv2d, x: torch.Tensor, pads: tuple[int, int, int, int],
                   autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """``relu(maxpool2x2(conv(F.pad(x, pads))))`` on the kernel; check :func:`applies` first.

    ``pads`` (left, right, top, bottom) is the conv's whole zero padding. Returns (N, C, Ho, Wo)
    channels-last, bf16 with ``autocast_dtype=torch.bfloat16`` (as torch's conv under bf16
    autocast would be) and float32 otherwise. RuntimeError where the kernel is not built.
    """
    if _load() is None:
        raise RuntimeError(f"the native kernel is {status()}")
    return _ConvPoolReLU.apply(x, conv.weight, conv.bias, pads, autocast_dtype == torch.bfloat16)


class _ConvPoolReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                pads: tuple[int, int, int, int], bf16: bool) -> torch.Tensor:
        if any(pads):
            x = F.pad(x, pads)
        n, _, h, w = x.shape
        c, _, kh, kw = weight.shape
        # Inputs rounded to bf16 as autocast would round them; the sums stay float32, as in oneDNN.
        cast = (lambda t: t.to(torch.bfloat16).float()) if bf16 else (lambda t: t)
        xs = cast(x.reshape(n, h, w)).contiguous()
        ws = cast(weight.detach().reshape(c, kh * kw)).t().contiguous()
        bs = cast(bias.detach()).contiguous() if bias is not None else torch.zeros(c)
        ho, wo = (h - kh + 1) // 2, (w - kw + 1) // 2
        out = torch.empty((n, c, ho, wo), dtype=torch.bfloat16 if bf16 else torch.float32,
                          memory_format=torch.channels_last)
        win = torch.empty((n, ho, wo, c), dtype=torch.uint8)
        assert _lib is not None  # narrowing: callers use the kernel only once it has loaded
        if out.numel():
            _lib.conv_pool_relu_forward(xs.data_ptr(), ws.data_ptr(), bs.data_ptr(), out.data_ptr(), win.data_ptr(),
                                        n, h, w, kh, kw, c, int(bf16), torch.get_num_threads())
        ctx.save_for_backward(xs, win)
        ctx.shape, ctx.bf16, ctx.has_bias = (n, h, w, kh, kw, c), bf16, bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        xs, win = ctx.saved_tensors
        n, h, w, kh, kw, c = ctx.shape
        grad = grad.to(torch.bfloat16 if ctx.bf16 else torch.float32).contiguous(memory_format=torch.channels_last)
        threads = torch.get_num_threads()
        gw, gb = torch.empty(kh * kw, c), torch.empty(c)
        scratch = torch.empty(threads, kh * kw * c + c)
        assert _lib is not None  # narrowing: the forward ran on it
        _lib.conv_pool_relu_backward(xs.data_ptr(), grad.data_ptr(), win.data_ptr(), gw.data_ptr(), gb.data_ptr(),
                                     scratch.data_ptr(), n, h, w, kh, kw, c, int(ctx.bf16), threads)
        return None, gw.t().reshape(c, 1, kh, kw), gb if ctx.has_bias else None, None, None

