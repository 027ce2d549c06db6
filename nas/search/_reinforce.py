"""REINFORCE (Williams, 1992) with one softmax per categorical parameter, as an Optuna sampler."""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
from typing import Any

import numpy as np
from optuna.distributions import CategoricalDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial

from nas.search._base import TrialSeededSampler, choice_index, fitness, scored_trials


@dataclass
class _Policy:
    """The policy after replaying the complete trials listed in ``replayed``."""

    search_space: dict[str, CategoricalDistribution]
    logits: dict[str, np.ndarray]
    velocity: dict[str, np.ndarray]
    replayed: list[tuple[int, float]] = field(default_factory=list)  # (number, value)
    reward_sum: float = 0.0  # numerator and denominator of the bias-corrected moving average
    reward_weight: float = 0.0


class ReinforceSampler(TrialSeededSampler):
    """Policy-gradient search: a softmax over the values of each categorical parameter.

    Each complete trial, and each pruned trial with its last reported value (as Optuna's TPE scores
    pruned trials), in trial-number order, is one REINFORCE step: the reward is the objective
    value (its negative in a minimize study); the baseline is an exponential moving average of the
    rewards, bias-corrected and updated with the current reward before the advantage
    ``reward - baseline`` is taken; every parameter's logits move by ``learning_rate`` times the
    gradient of ``advantage * log p(value)`` (plus ``entropy_weight`` times the gradient of the
    softmax's entropy, which keeps it from collapsing early), with heavy-ball ``momentum``. The
    update is the one of the Zheng et al. authors' ``run_rl.py``, whose defaults are kept:
    ``--lr 0.1`` and ``--momentum 0.9``, which there is the decay of the baseline's moving average
    (here ``baseline_decay``); their logits follow the plain gradient (``momentum=0``) without
    entropy bonus. Their reward is an accuracy in [0, 1]: the step size scales with the reward,
    so rescale ``learning_rate`` for objectives on another scale. Their policy was over another
    space (28 parameters ``{cell}_{node}_{prev}``, one of 7 operations per edge, every node taking
    all its inputs); here it is over the parameters given, e.g. the 2-input DARTS space of
    :func:`nas.space.suggest_genotype` (that of ``ground_truth.csv``).

    The policy is not kept anywhere but derived from the study: it is the result of replaying the
    complete trials, so resumed runs and parallel workers sample from the same policy given the
    same complete trials. A worker remembers its last replay and only applies trials newer than
    it; a trial completing with a lower number than one already replayed (parallel workers finish
    out of order) makes it replay from the start. A trial's values are drawn with a generator
    seeded by ``(seed, trial number, parameter name)``.

    Args:
        learning_rate: Step size of the logits.
        momentum: Momentum of the logits' gradient ascent (0: plain gradient, as ``run_rl.py``).
        baseline_decay: Decay of the reward's moving average, in [0, 1).
        entropy_weight: Weight of the entropy bonus (0: none, as ``run_rl.py``).
        seed: Seed of every random draw, combined with the trial number.
    """

    def __init__(
        self,
        learning_rate: float = 0.1,
        momentum: float = 0.0,
        baseline_decay: float = 0.9,
        entropy_weight: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        if not entropy_weight >= 0:
            raise ValueError(f"entropy_weight must be non-negative, got {entropy_weight}")
        super().__init__(seed)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._baseline_decay = baseline_decay
        self._entropy_weight = entropy_weight
        self._memo: dict[tuple[int, int], _Policy] = {}
        self._lock = threading.Lock()  # study.optimize(n_jobs=...) shares the sampler

    def policy(self, study: Study) -> dict[str, dict[Any, float]]:
        """The probability of each value of each parameter of the relative search space."""
        search_space = self.infer_relative_search_space(study, None)  # type: ignore[arg-type]
        policy = self._policy(study, search_space)
        return {
            name: dict(zip(distribution.choices, _softmax(policy.logits[name]).tolist()))
            for name, distribution in search_space.items()
        }

    def _sample_categorical(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, CategoricalDistribution]
    ) -> dict[str, Any]:
        policy = self._policy(study, search_space)
        params = {}
        for name, distribution in search_space.items():
            probabilities = _softmax(policy.logits[name])
            index = self._rng(trial, name).choice(len(probabilities), p=probabilities)
            params[name] = distribution.choices[int(index)]
        return params

    def _policy(self, study: Study, search_space: dict[str, CategoricalDistribution]) -> _Policy:
        trials = scored_trials(study)  # a pruned trial is rewarded by its last reported value
        history = [(trial.number, fitness(trial)) for trial in trials]
        key = (id(study._storage), study._study_id)
        with self._lock:
            policy = self._memo.get(key)
            if (
                policy is None
                or policy.search_space != search_space
                or history[: len(policy.replayed)] != policy.replayed
            ):
                policy = _Policy(
                    search_space=dict(search_space),
                    logits={n: np.zeros(len(d.choices)) for n, d in search_space.items()},
                    velocity={n: np.zeros(len(d.choices)) for n, d in search_space.items()},
                )
                self._memo[key] = policy
            sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
            for trial in trials[len(policy.replayed) :]:
                self._step(policy, trial, sign * fitness(trial))
            policy.replayed = history
            return policy

    def _step(self, policy: _Policy, trial: FrozenTrial, reward: float) -> None:
        decay = self._baseline_decay
        policy.reward_sum = decay * policy.reward_sum + (1 - decay) * reward
        policy.reward_weight = decay * policy.reward_weight + (1 - decay)
        advantage = reward - policy.reward_sum / policy.reward_weight
        for name, distribution in policy.search_space.items():
            index = choice_index(trial, name, distribution)
            if index is None:
                continue
            probabilities = _softmax(policy.logits[name])
            gradient = -advantage * probabilities
            gradient[index] += advantage
            if self._entropy_weight:
                log_p = np.log(probabilities)
                entropy = -float(probabilities @ log_p)
                gradient -= self._entropy_weight * probabilities * (log_p + entropy)
            policy.velocity[name] = self._momentum * policy.velocity[name] + gradient
            policy.logits[name] += self._learning_rate * policy.velocity[name]


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()
