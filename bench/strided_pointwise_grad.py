"""How often torch's CPU kernel gives a wrong kernel gradient for a strided 1x1 convolution on a
channels-last input (a ResNet projection shortcut), against the same convolution of every
stride-th pixel, which mnistlab computes instead (``mnistlab.models.Conv2D.conv_forward``)::

    python bench/strided_pointwise_grad.py 6 4 8 8 1000 128 16 32 28 60

Each group of five numbers is one case: batch, input channels, output channels, image side,
tries. Prints, for each case, the wrong gradients out of the tries (more than 0.1% of the largest
entry off), for the kernel and the input, with and without channels-last and the slicing."""

from __future__ import annotations

import sys

import torch


def grads(x0: torch.Tensor, w0: torch.Tensor, g: torch.Tensor, channels_last: bool,
          sliced: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's and the input's gradient of ``sum(conv(x, w) * g)``, in float64."""
    x, w = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    xi = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    y = torch.nn.functional.conv2d(xi[:, :, ::2, ::2], w) if sliced else torch.nn.functional.conv2d(xi, w, stride=2)
    (y * g).sum().backward()
    assert w.grad is not None and x.grad is not None
    return w.grad.double(), x.grad.double()


def case(n: int, c: int, o: int, h: int, tries: int) -> None:
    torch.manual_seed(0)
    x0, w0 = torch.randn(n, c, h, h), torch.randn(o, c, 1, 1)
    g = torch.randn(n, o, (h + 1) // 2, (h + 1) // 2)
    rw, rx = grads(x0, w0, g, False, True)
    for channels_last, sliced in ((True, False), (True, True), (False, False)):
        wrong_w = wrong_x = 0
        for _ in range(tries):
            gw, gx = grads(x0, w0, g, channels_last, sliced)
            wrong_w += bool((gw - rw).abs().max() > 1e-3 * rw.abs().max())
            wrong_x += bool((gx - rx).abs().max() > 1e-3 * rx.abs().max())
        print(f"batch {n}, {c}->{o} channels, {h}x{h}, channels_last={channels_last}, sliced={sliced}: "
              f"kernel gradient wrong {wrong_w}/{tries}, input gradient wrong {wrong_x}/{tries}")


def main() -> None:
    args = [int(a) for a in sys.argv[1:]] or [6, 4, 8, 8, 1000, 128, 16, 32, 28, 60]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for i in range(0, len(args), 5):
        case(*args[i:i + 5])


if __name__ == "__main__":
    main()
