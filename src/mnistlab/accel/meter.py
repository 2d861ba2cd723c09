"""An epoch's running loss and accuracy, read on the host at each step or once an epoch
(:attr:`mnistlab.accel.Plan.sync_each_step`): how often the host waits for the device is speed
work, so it lives here, beside the engine (the trainer asks its plan for one:
:meth:`mnistlab.accel.Plan.meter`)."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["EpochMeter"]


class EpochMeter:
    """An epoch's running loss and accuracy.

    With ``sync`` (the CPU: reading a value costs nothing) each step's loss is read at once, so a
    NaN stops training at its batch. Without it (a GPU) the sums stay on the device and the host
    reads them once, in :meth:`totals`: the GPU never waits for Python between steps. The sums are
    float64 either way, so both give the same numbers.
    """

    def __init__(self, device: torch.device, sync: bool) -> None:
        self.sync, self.seen, self.device = sync, 0, device
        self.loss_sum: float | torch.Tensor = 0.0 if sync else torch.zeros((), dtype=torch.float64, device=device)
        self.correct: int | torch.Tensor = 0 if sync else torch.zeros((), dtype=torch.int64, device=device)

    def add(self, loss: torch.Tensor, hits: torch.Tensor, n: int, *, read: bool = False) -> float | None:
        """Count a batch of ``n`` images (0-d mean ``loss``, 0-d ``hits``); its loss as a float
        when synced or ``read`` (batch callbacks want it), else None."""
        self.seen += n
        if self.sync:
            value = loss.item()
            self.loss_sum, self.correct = self.loss_sum + value * n, self.correct + int(hits)
            return value
        self.loss_sum, self.correct = self.loss_sum + loss.double() * n, self.correct + hits
        return loss.item() if read else None

    def totals(self) -> tuple[float, float]:
        """(mean loss, accuracy) over the images counted so far (NaN loss if any step's was)."""
        return float(self.loss_sum) / max(self.seen, 1), int(self.correct) / max(self.seen, 1)

    def state_dict(self) -> dict[str, Any]:
        """The sums so far as plain numbers (a mid-epoch checkpoint's; reads a GPU's sums once)."""
        return {"loss_sum": float(self.loss_sum), "correct": int(self.correct), "seen": self.seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue counting from :meth:`state_dict`'s sums (float64 on the device, as they were)."""
        self.seen = int(state["seen"])
        if self.sync:
            self.loss_sum, self.correct = float(state["loss_sum"]), int(state["correct"])
        else:
            self.loss_sum = torch.tensor(float(state["loss_sum"]), dtype=torch.float64, device=self.device)
            self.correct = torch.tensor(int(state["correct"]), dtype=torch.int64, device=self.device)
