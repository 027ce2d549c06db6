"""Callbacks for ``study.optimize``: stop when MIP is done, and show its decisions to people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from optuna._experimental import experimental_class
from optuna.logging import get_logger
from optuna.trial import TrialState

from ._history import CONFIG_KEY
from ._history import fixed_from_decisions
from ._history import pruning_history
from ._history import PruningDecision
from ._rounds import is_evidence


if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


# Under "optuna." so that optuna.logging.set_verbosity and its handler apply, as to Optuna's own messages.
_logger = get_logger(f"optuna.{__name__}")

USER_FIXED_KEY = "mip:fixed"
USER_ROUND_KEY_PREFIX = "mip:round:"


def required_trials(n_params: int, samples_per_round: int = 10) -> int:
    """Finished trials MIP needs to fix ``n_params`` parameters: one round of ``K`` each.

    Complete trials count, and pruned ones that reported a value; failed trials do not, so
    budget some more if the objective can fail.
    """

    if n_params < 0 or samples_per_round < 1:
        raise ValueError("`n_params` must be >= 0 and `samples_per_round` >= 1.")
    return n_params * samples_per_round


@experimental_class("0.1.0")
class StopWhenAllFixed:
    """Callback that stops ``study.optimize`` once every parameter is fixed.

    :class:`~optuna_mip.MIPSampler` now stops the study itself when its last round is decided,
    as :class:`~optuna.samplers.BruteForceSampler` does when the space is exhausted; this
    callback is kept so that existing code runs unchanged, and for studies optimized by another
    sampler after MIP. "Every parameter" means every parameter of a trial MIP learns from
    (complete, or pruned after a report), so a dynamic search space keeps going while new
    parameters show up.
    """

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        decisions = pruning_history(study)
        if not decisions:
            return
        fixed = fixed_from_decisions(decisions)
        if any(name not in fixed for name in trial.params):
            return  # Cheap exit while the search is on.
        finished = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
        )
        if not any(name not in fixed for t in finished if is_evidence(t) for name in t.params):
            study.stop()


@experimental_class("0.1.0")
class PublishDecisions:
    """Callback that shows MIP's decisions in the study's user attributes and optuna-dashboard.

    After each trial that follows a new decision it writes (idempotently, so parallel workers
    may all use it):

    * user attribute ``mip:fixed``: ``{parameter: fixed value}``;
    * user attributes ``mip:round:01``, ``mip:round:02``, ...: one readable line per decision,
      e.g. ``round 2: fixed 'epochs' = 10 (cheapest; importance 0.031 among 7 free, on 20
      complete trials)``;
    * an optuna-dashboard note (if optuna-dashboard is installed) with a table of the decisions
      and the importance evaluator they used.

    The sampler itself writes only its own system attributes; use this callback, or call
    :func:`publish_decisions` after ``study.tell``, when people should see the decisions.
    """

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        decisions = pruning_history(study)
        last = USER_ROUND_KEY_PREFIX + f"{len(decisions):02d}"
        if decisions and last not in study.user_attrs:
            publish_decisions(study, decisions)


def publish_decisions(study: Study, decisions: Sequence[PruningDecision] | None = None) -> None:
    """Write what :class:`PublishDecisions` writes, now."""

    decisions = pruning_history(study) if decisions is None else decisions
    study.set_user_attr(USER_FIXED_KEY, fixed_from_decisions(decisions))
    for d in decisions:
        study.set_user_attr(USER_ROUND_KEY_PREFIX + f"{d.round:02d}", d.summary())
    _save_dashboard_note(study, decisions_markdown(study, decisions))


def decisions_markdown(study: Study, decisions: Sequence[PruningDecision] | None = None) -> str:
    """A Markdown table of the decisions, as in the optuna-dashboard note."""

    decisions = pruning_history(study) if decisions is None else decisions
    config = study._storage.get_study_system_attrs(study._study_id).get(CONFIG_KEY, {})
    evaluator = config.get("importance_evaluator", "ForestImportanceEvaluator")
    lines = [
        "## Minimum Importance Pruning",
        "",
        f"Importance: `{evaluator}`, as a share among the parameters still free at each round; "
        f"a pruned parameter below {config.get('importance_threshold', 0.1)} goes to its "
        "cheapest value, otherwise to "
        + (
            "the value the forest predicts best."
            if config.get("fix_at") == "predicted"
            else "its value in the best trial."
        ),
        "",
        "| round | parameter | fixed at | reason | importance | finished trials "
        "| importances of the free parameters |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in decisions:
        importances = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(d.importances.items()))
        importance = f"{d.importances[d.param]:.3f}" if d.param in d.importances else "-"
        lines.append(
            f"| {d.round} | `{d.param}` | `{d.value!r}` | {d.reason} "
            f"| {importance} | {d.n_complete_trials} | {importances} |"
        )
    return "\n".join(lines) + "\n"


def _save_dashboard_note(study: Study, markdown: str) -> None:
    # The note is a convenience: neither a missing optuna-dashboard nor a failure inside it (its
    # note versioning is not made for concurrent writers) may break the study.
    try:
        from optuna_dashboard import save_note
    except ImportError:
        return
    try:
        save_note(study, markdown)
    except Exception as e:  # noqa: BLE001
        _logger.debug(f"Could not save the optuna-dashboard note: {e!r}")
