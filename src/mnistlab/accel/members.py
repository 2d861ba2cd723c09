"""A committee's members trained together as one stacked model: one kernel launch for all of them.

On a GPU, five copies of a small CNN each leave most of the device idle; stacked, their parameters
become ``(M, ...)`` tensors and one vmapped forward (:func:`torch.func.vmap` over
:func:`torch.func.functional_call`) runs every member's batch at once: convolutions become grouped
convolutions, dense layers batched matrix products. Each member keeps what makes it a member:

- its own initial weights (``build_model(spec, seed=member_seed)``, as when trained alone);
- its own shuffle of the training set (a generator seeded with its seed, as the Trainer's);
- its own loss: the loss that is minimised is the sum of the members' mean losses, so each
  member's gradient is exactly the one it would get alone, and every optimizer mnistlab offers
  updates each element from its own gradient only (so the stacked optimizer steps each member as
  its own optimizer would).

Differences from training the members one by one, documented: the numbers agree to float
rounding, not bit for bit (grouped vs plain convolutions); dropout masks and augmentation are drawn
from one stream for all members (same distributions, other draws); each member's recorded
``epoch_seconds`` is its share (the stack's time / M). Refused (the members then train one by one;
:func:`batch_refusal` says why): callbacks (a member may stop or change its rate alone), a random
validation split that differs per member, BatchNormalization (running statistics are updated in
place), a weight penalty (``kernel_regularizer``), and members whose configs differ in anything
but ``train.seed``.

    stack = StackedMembers(models)              # models: M nn.Modules of one architecture
    outcomes = fit_members(stack, x, y, seeds=[0, 1, 2], epochs=5, ...)       # one FitOutcome each
    losses, accs, probs = evaluate_members(stack, test_x, test_y, return_probs=True)
    stack.write_back()                          # each model holds its trained weights again
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from mnistlab.augment import Augmenter
from mnistlab.evaluate import blow_up, to_input
from mnistlab.optim import schedule_lr, set_lr
from mnistlab.specs import keras_graph, regularized
from mnistlab.trainer import FitOutcome, divergence_hint, own_global_rng, seed_global_rng

if TYPE_CHECKING:
    from mnistlab.config import RunConfig

__all__ = ["StackedMembers", "batch_refusal", "evaluate_members", "fit_members"]


def batch_refusal(configs: Sequence[RunConfig]) -> str | None:
    """Why these members cannot train as one stack (None: they can). Members must share every
    setting but ``train.seed``, have no callbacks, no weight average (EMA, SWA) or TTA, one training set
    (no per-seed random validation split), no BatchNormalization layer and no weight penalty."""
    if len(configs) < 2:
        return "a committee of one"
    from mnistlab.experiments import same_setting  # what a variant's runs share: all but their seeds

    first = configs[0]
    if not all(same_setting(first.resolved(), c.resolved()) for c in configs[1:]):
        return "the members differ in more than train.seed"
    if first.callbacks:
        return "callbacks act on each member alone"
    if first.train.use_ema or first.train.swa is not None:
        return "train.use_ema / train.swa: the weight average is kept per model by the trainer"
    if first.evaluate.tta is not None:
        return "evaluate.tta scores each member on its own"
    if first.train.class_weight is not None:
        return "train.class_weight: the trainer weighs each image's loss"
    if first.weights is not None:
        return "weights: each member loads the file into a model of its own"
    data = first.data
    split_seeds = {c.split_seed for c in configs}
    if data.validation not in (0, 0.0, "test") and data.split == "random" and len(split_seeds) > 1:
        return "each member holds out its own random validation split (set data.split_seed to share one)"
    if any(node.type == "BatchNormalization" for node in keras_graph(first.model_spec())):  # blocks' BNs too
        return "BatchNormalization updates its running statistics in place"
    if not all(layer.trainable for layer in first.model_spec().layers):
        return "trainable = false: the stack trains every weight"
    if regularized(first.model_spec()):
        return "kernel_regularizer / bias_regularizer: the trainer adds each model's weight penalty to its loss"
    return None


class StackedMembers(nn.Module):
    """M models of one architecture as one module: parameters stacked to ``(M, *shape)``.

    ``forward(x)``: float32 ``(B, M, C, H, W)`` -> logits ``(B, M, classes)``, member ``m`` seeing
    ``x[:, m]`` through its own weights. Buffers (a Normalization's constants) are shared: every
    member is built from one spec. :meth:`write_back` copies each member's weights into its model.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        self.models = list(models)
        self.count = len(self.models)
        self.names = [name for name, _ in self.models[0].named_parameters()]
        self.stacked = nn.ParameterList(
            nn.Parameter(torch.stack([dict(m.named_parameters())[name].detach() for m in self.models]).clone())
            for name in self.names)
        self.__dict__["_template"] = copy.deepcopy(self.models[0])  # not a submodule: its weights are not trained
        self.buffers_ = dict(self.template.named_buffers())

    @property
    def template(self) -> nn.Module:
        """The module :func:`torch.func.functional_call` runs with each member's weights."""
        module: nn.Module = self.__dict__["_template"]
        return module

    def train(self, mode: bool = True) -> StackedMembers:
        """Train/eval mode for the stack and the template it calls (dropout on or off)."""
        self.template.train(mode)
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, M, C, H, W) float -> (B, M, classes) logits."""
        params = dict(zip(self.names, self.stacked))

        def one(member_params: dict[str, torch.Tensor], xm: torch.Tensor) -> torch.Tensor:
            return functional_call(self.template, (member_params, self.buffers_), (xm,))

        return vmap(one, in_dims=(0, 1), out_dims=1, randomness="different")(params, x)

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy each member's slice of the stacked parameters into its own model."""
        for i, model in enumerate(self.models):
            own = dict(model.named_parameters())
            for name, stacked in zip(self.names, self.stacked):
                own[name].copy_(stacked[i])


def fit_members(stack: StackedMembers, images: torch.Tensor, labels: torch.Tensor, *, seeds: Sequence[int],
                epochs: int, batch_size: int, optimizer: torch.optim.Optimizer, base_lr: float,
                schedule: Any = None, label_smoothing: float = 0.0, augment: Any = None,
                val: tuple[torch.Tensor, torch.Tensor] | None = None,
                autocast_dtype: torch.dtype | None = None) -> list[FitOutcome]:
    """Train the stack for ``epochs``; one :class:`~mnistlab.trainer.FitOutcome` per member.

    ``images`` uint8 (N, H, W) and ``labels`` int64 (N,) on the stack's device; ``optimizer`` over
    ``stack.parameters()``; ``schedule`` a ScheduleConfig (per batch, as the Trainer); ``augment``
    an AugmentConfig (one stream for all members, seeded ``seeds[0] + 1``). History entries have the
    Trainer's keys. A member whose epoch loss is not finite, or blown up at chance accuracy
    (:func:`~mnistlab.evaluate.blow_up`), ends ``diverged``; the others go on. The global random
    generators are seeded inside and left as found (:func:`~mnistlab.trainer.own_global_rng`).
    """
    with own_global_rng(images.device):
        return _fit_members(stack, images, labels, seeds=seeds, epochs=epochs, batch_size=batch_size,
                            optimizer=optimizer, base_lr=base_lr, schedule=schedule, label_smoothing=label_smoothing,
                            augment=augment, val=val, autocast_dtype=autocast_dtype)


# long: the members' epoch loop, read top to bottom like the Trainer's; split, it would scatter it
def _fit_members(stack: StackedMembers, images: torch.Tensor, labels: torch.Tensor, *, seeds: Sequence[int],
                 epochs: int, batch_size: int, optimizer: torch.optim.Optimizer, base_lr: float, schedule: Any,
                 label_smoothing: float, augment: Any, val: tuple[torch.Tensor, torch.Tensor] | None,
                 autocast_dtype: torch.dtype | None) -> list[FitOutcome]:
    """:func:`fit_members`, inside its own random state."""
    count, n, device = stack.count, len(images), images.device
    steps = math.ceil(n / batch_size)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    augmenter = (Augmenter(augment, seed=int(seeds[0]) + 1, device=device)
                 if augment is not None and not augment.is_identity() else None)
    seed_global_rng(int(seeds[0]), device)  # dropout draws from the global generator
    outcomes = [FitOutcome() for _ in range(count)]
    classes = max(int(labels.max()) + 1, 2) if n else 2
    for epoch in range(epochs):
        live = [o.status == "finished" for o in outcomes]
        if not any(live):
            break
        stack.train()
        start = time.perf_counter()
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)  # (M, N)
        xs, ys = images[order.T], labels[order.T]  # (N, M, H, W), (N, M): batches are contiguous slices
        loss_sum = torch.zeros(count, dtype=torch.float64, device=device)
        correct = torch.zeros(count, dtype=torch.int64, device=device)
        lr = base_lr
        for step in range(steps):
            if schedule is not None:
                lr = schedule_lr(schedule, base_lr, epoch + step / steps, epochs, steps)
                set_lr(optimizer, lr)
            xb, yb = xs[step * batch_size : (step + 1) * batch_size], ys[step * batch_size : (step + 1) * batch_size]
            x = to_input(xb.flatten(0, 1))  # (B*M, 1, H, W)
            if augmenter is not None:
                x = augmenter(x)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
                logits = stack(x.view(len(yb), count, *x.shape[1:]))  # (B, M, classes)
            losses = F.cross_entropy(logits.float().permute(0, 2, 1), yb, reduction="none",
                                     label_smoothing=label_smoothing).mean(0)  # (M,): each member's mean loss
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # each member's gradient is its own loss's
            optimizer.step()
            loss_sum += losses.detach().double() * len(yb)
            correct += (logits.detach().argmax(2) == yb).sum(0)
        losses_, accs = (loss_sum / n).tolist(), (correct.double() / n).tolist()  # the epoch's one wait
        train_seconds = time.perf_counter() - start
        val_metrics = evaluate_members(stack, *val, label_smoothing=label_smoothing,
                                       autocast_dtype=autocast_dtype)[:2] if val is not None and len(val[0]) else None
        seconds = time.perf_counter() - start
        for m, outcome in enumerate(outcomes):
            if not live[m]:
                continue
            if not math.isfinite(losses_[m]):
                outcome.status = "diverged"
                outcome.message = divergence_hint(losses_[m], f"during epoch {epoch + 1}", lr)
                continue
            entry: dict[str, Any] = {"epoch": epoch + 1, "loss": losses_[m], "accuracy": accs[m]}
            if val_metrics is not None:
                entry["val_loss"], entry["val_accuracy"] = val_metrics[0][m], val_metrics[1][m]
            entry.update(lr=lr, epoch_seconds=seconds / count, images_per_second=n * count / train_seconds)
            outcome.history.append(entry)
            if (why := blow_up(outcome.history, classes)) is not None:  # finite, but far past chance (as the Trainer)
                outcome.status, outcome.message = "diverged", why
    return outcomes


@torch.inference_mode()
def evaluate_members(stack: StackedMembers, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 250,
                     label_smoothing: float = 0.0, autocast_dtype: torch.dtype | None = None,
                     return_probs: bool = False) -> tuple[list[float], list[float], np.ndarray | None]:
    """Each member's mean loss and accuracy on uint8 images (N, H, W), and with ``return_probs`` the
    float32 softmax outputs (M, N, classes). The stack is left in eval mode."""
    stack.eval()
    device, count, n = images.device, stack.count, len(images)
    loss_sum = torch.zeros(count, dtype=torch.float64, device=device)
    correct = torch.zeros(count, dtype=torch.int64, device=device)
    probs = []
    for start in range(0, n, batch_size):
        x = to_input(images[start : start + batch_size])
        y = labels[start : start + batch_size]
        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
            logits = stack(x.unsqueeze(1).expand(-1, count, *x.shape[1:])).float()  # (B, M, classes)
        loss_sum += F.cross_entropy(logits.permute(0, 2, 1), y.unsqueeze(1).expand(-1, count), reduction="none",
                                    label_smoothing=label_smoothing).double().sum(0)
        correct += (logits.argmax(2) == y.unsqueeze(1)).sum(0)
        if return_probs:
            probs.append(torch.softmax(logits, 2).transpose(0, 1).cpu())
    out = torch.cat(probs, 1).numpy() if return_probs and probs else None
    return (loss_sum / max(n, 1)).tolist(), (correct.double() / max(n, 1)).tolist(), out
