"""The objective of architecture search: an architecture's accuracy after training under a budget,
or what a named estimator predicts of it."""

from __future__ import annotations

import math

import optuna
import torch

from nas.estimation._budget import Budget, refuse_test_split
from nas.data import Dataset
from nas.estimation._estimate import get_or_train
from nas.store import ResultStore
from nas.estimation._curves import curve_score
from nas.estimation._proxies import score
from nas.estimation._registry import estimator_kind
from nas.estimation._trainer import TrainResult, network_flops, network_params
from nas.space import DARTS_SPACE, DartsSpace
from nas.space._genotype import Genotype


class ArchitectureObjective:
    """Suggest a genotype, train it under ``budget`` through ``store``, return its held-out accuracy
    (or what ``estimator`` predicts of it).

    An architecture already trained under the budget costs nothing: its stored result answers. When
    the study has a pruner (not :class:`optuna.pruners.NopPruner`), a new training reports the
    held-out accuracy of each epoch (``trial.report``), so the pruner can stop it early; a pruned
    training is not stored, since its accuracy is not the budget's.
    A training that diverges fails the trial (the objective returns NaN) with its ``reason``.

    The genotype's text and hash, its parameters, FLOPs and training seconds are kept as user
    attributes, where optuna-dashboard shows them and the final evaluation reads them.
    :attr:`space` suggests the architecture (a subclass may narrow its operations); the trainer and
    the store take genotypes, so it is a :class:`~nas.space.DartsSpace`.

    With ``estimator`` (a name :func:`nas.estimation.estimators` knows, a user's registered one
    too), the trial's value is that estimator's instead: a zero-cost proxy scores the untrained
    network at the budget's size (no training, nothing stored); a learning-curve estimator reads the
    stored training's curve, whose accuracy stays in the ``accuracy`` attribute.
    """

    space: DartsSpace = DARTS_SPACE

    def __init__(
        self,
        budget: Budget,
        dataset: Dataset,
        store: ResultStore | None,
        *,
        device: torch.device | str | None = None,
        progress: bool = False,
        estimator: str | None = None,
    ) -> None:
        refuse_test_split(budget, "an architecture search")
        self.budget, self.dataset, self.store = budget, dataset, store
        self.device, self.progress = device, progress
        self.estimator, self.kind = estimator, None if estimator is None else estimator_kind(estimator)

    def __call__(self, trial: optuna.Trial) -> float:
        genotype = self.space.suggest(trial)
        trial.set_user_attr("genotype", self.space.encode(genotype))
        trial.set_user_attr("hash", genotype.hash())
        if self.kind == "proxy":
            return self._proxy(trial, genotype)

        def report(epoch: int, accuracy: float) -> None:
            trial.report(accuracy, epoch)
            if epoch < self.budget.epochs and trial.should_prune():  # after the last epoch nothing is saved
                raise optuna.TrialPruned(f"pruned after epoch {epoch} at accuracy {accuracy:.4f}")

        pruning = not isinstance(trial.study.pruner, optuna.pruners.NopPruner)
        trained: list[TrainResult] = []
        result = get_or_train(
            genotype,
            self.budget,
            self.dataset,
            self.store,
            device=self.device,
            progress=self.progress,
            on_epoch=report if pruning else None,
            on_trained=trained.append,
        )
        for name in ("params", "flops", "seconds"):
            trial.set_user_attr(name, getattr(result, name))
        trial.set_user_attr("reused", not trained)  # answered by the result store, not trained
        if result.status != "ok":
            trial.set_user_attr("reason", result.reason)
            return math.nan
        if self.estimator is None:
            return result.accuracy
        trial.set_user_attr("accuracy", result.accuracy)
        return curve_score(self.estimator, result)

    def _proxy(self, trial: optuna.Trial, genotype: Genotype) -> float:
        assert self.estimator is not None
        proxied = score(genotype, self.estimator, self.budget, self.dataset, device=self.device)
        trial.set_user_attr("params", network_params(genotype, self.budget, self.dataset.num_classes))
        trial.set_user_attr("flops", network_flops(genotype, self.budget, self.dataset.num_classes))
        trial.set_user_attr("seconds", proxied.seconds)
        trial.set_user_attr("reused", False)
        return proxied.score
