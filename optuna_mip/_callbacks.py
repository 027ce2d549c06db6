"""Stopping ``study.optimize`` when MIP is done, so nobody has to guess ``n_trials``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optuna.trial import TrialState

from optuna_mip._history import pruning_history
from optuna_mip._history import TRIAL_ROUND_KEY
from optuna_mip._sampler import MIPSampler


if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


def required_trials(n_params: int, samples_per_round: int = 10) -> int:
    """Complete trials MIP needs to fix ``n_params`` parameters: one round of ``K`` each.

    Failed and pruned trials do not count, so budget some more if the objective can fail.
    """

    if n_params < 0 or samples_per_round < 1:
        raise ValueError("`n_params` must be >= 0 and `samples_per_round` >= 1.")
    return n_params * samples_per_round


class StopWhenAllFixed:
    """Callback that stops ``study.optimize`` once every parameter is fixed.

    Once all parameters are fixed, :class:`~optuna_mip.MIPSampler` can only repeat one setting,
    so further trials are useful only to re-measure a noisy objective at that setting:
    ``extra_trials`` asks for that many complete trials sampled after the last decision.

    "Every parameter" means every parameter that appears in a complete trial, so a study with a
    dynamic search space keeps going while new parameters show up.

    Example:

        .. code-block:: python

            study.optimize(objective, n_trials=1000, callbacks=[optuna_mip.StopWhenAllFixed()])

    Args:
        extra_trials:
            Complete trials to run at the final setting before stopping (default 0).
    """

    def __init__(self, extra_trials: int = 0) -> None:
        if extra_trials < 0:
            raise ValueError(f"`extra_trials` must be >= 0, got {extra_trials}.")
        self._extra_trials = extra_trials

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        # Callbacks run after the trial is stored. If the last trials of the final round
        # finished at the same moment in two workers, neither could decide the round in
        # after_trial; give the sampler the chance to do it now.
        if isinstance(study.sampler, MIPSampler):
            decisions = study.sampler._settle_guarded(study)
        else:
            decisions = pruning_history(study)
        if not decisions:
            return
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        fixed = {d.param for d in decisions}
        if any(name not in fixed for t in complete for name in t.params):
            return
        at_final_setting = sum(
            1 for t in complete if t.system_attrs.get(TRIAL_ROUND_KEY, -1) >= len(decisions)
        )
        if at_final_setting >= self._extra_trials:
            study.stop()
