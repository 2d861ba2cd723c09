"""Does test-time augmentation pay for a recorded committee? Chosen on validation, scored once on test (issue 16).

For every finished member of ``experiment`` in ``--store`` (the latest run of each seed), the
recorded model predicts the run's own validation split (``data.validation`` with its split seed:
the images it never trained on) under each candidate set of TTA views (:func:`mnistlab.evaluate.tta_views`:
one-pixel shifts, small rotations). The candidate with the best committee accuracy on validation
(ties: fewer views) is then scored once on the test set beside plain prediction, for the members
and the committee (their softmax outputs averaged, as ``mnistlab run`` scores a committee)::

    python bench/tta_choice.py best-mnist --store ../repro-best --data-dir ../shared/datasets --threads 1

Prints a Markdown table. Float32 inference on the CPU; the recorded test accuracies came from the
training plan (bf16 autocast where it paid), so the plain row here may differ from them by an image.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from mnistlab.config import parse_run_config
from mnistlab.errors import MnistlabError
from mnistlab.evaluate import evaluate_tta, tta_views
from mnistlab.metrics import committee_probs
from mnistlab.run import Run, prepare_data
from mnistlab.store import RunStore

CANDIDATES: dict[str, tuple[int, float]] = {  # name: (shift in pixels, rotation in degrees)
    "none": (0, 0.0), "rotate 5": (0, 5.0), "rotate 10": (0, 10.0), "shift 1": (1, 0.0), "shift 2": (2, 0.0),
    "shift 1 + rotate 5": (1, 5.0), "shift 1 + rotate 10": (1, 10.0),
}


def members(store: RunStore, experiment: str) -> list[Run]:
    """The latest finished run of each seed of ``experiment``, as models."""
    latest: dict[int, Any] = {}
    for rec in sorted(store.runs(experiment=experiment, status="finished"), key=lambda r: r.created_at):
        latest[rec.seed] = rec
    return [Run.from_store(store, latest[s].run_id) for s in sorted(latest)]


def probs_of(run: Run, images: torch.Tensor, labels: torch.Tensor, views: tuple[int, float]) -> np.ndarray:
    """float32 (N, classes): ``run``'s softmax averaged over the views."""
    return evaluate_tta(run.model, images, labels, tta_views(*views))[2]


def scores(runs: list[Run], x: torch.Tensor, y: torch.Tensor, views: tuple[int, float]) -> tuple[list[float], float]:
    """(each member's accuracy, the committee's accuracy) under ``views``."""
    probs = [probs_of(r, x, y, views) for r in runs]
    truth = y.numpy()
    return [float((p.argmax(1) == truth).mean()) for p in probs], float((committee_probs(probs).argmax(1) == truth).mean())


def row(name: str, member_acc: list[float], committee: float, n: int) -> str:
    errors = round((1 - committee) * n)
    return (f"| {name} | {100 * np.mean(member_acc):.2f}% +- {100 * np.std(member_acc, ddof=1):.2f} | "
            f"{100 * min(member_acc):.2f}-{100 * max(member_acc):.2f}% | {100 * committee:.2f}% ({errors} errors) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment")
    ap.add_argument("--store", required=True)
    ap.add_argument("--data-dir")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        runs = members(RunStore(args.store, create=False), args.experiment)
        if len(runs) < 2:
            raise MnistlabError(f"{args.experiment}: {len(runs)} finished member(s) in {args.store}; a committee needs 2")
        data = prepare_data(parse_run_config(runs[0].config, source="the recorded config", check_model=False),
                            args.data_dir)
    except MnistlabError as exc:
        raise SystemExit(f"error: {exc}") from None
    if data.val_x is None or data.val_y is None or data.validation_is_test:
        raise SystemExit("error: the runs have no validation split of their own to choose on")
    head = "| TTA views | members | range | committee |\n|---|---|---|---|"
    print(f"{len(runs)} members of {args.experiment}; validation: {len(data.val_y)} images\n\n{head}")
    chosen, best = "none", -1.0
    for name, views in CANDIDATES.items():
        member_acc, committee = scores(runs, data.val_x, data.val_y, views)
        print(row(name, member_acc, committee, len(data.val_y)), flush=True)
        if committee > best:  # candidates go from fewer views to more: a tie keeps the fewer
            chosen, best = name, committee
    print(f"\nchosen on validation: {chosen}\n\ntest ({len(data.test_y)} images), scored once:\n\n{head}")
    for name in dict.fromkeys(["none", chosen]):
        print(row(name, *scores(runs, data.test_x, data.test_y, CANDIDATES[name]), len(data.test_y)), flush=True)


if __name__ == "__main__":
    main()
