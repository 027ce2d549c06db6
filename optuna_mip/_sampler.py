from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import threading
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna._experimental import experimental_class
from optuna.distributions import BaseDistribution
from optuna.logging import get_logger
from optuna.samplers import BaseSampler
from optuna.samplers import RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from ._cost import Cost
from ._cost import CostModel
from ._cost import softmax_probabilities
from ._history import CONFIG_KEY
from ._history import decisions_from_system_attrs
from ._history import fixed_from_decisions
from ._history import pruning_history
from ._history import PruningDecision
from ._history import record_decision
from ._history import TRIAL_FIXED_KEY
from ._rounds import complete_trials_needed
from ._rounds import decide_round
from ._rounds import derive_seed
from ._rounds import evaluator_fingerprint
from ._rounds import EvidenceScan
from ._rounds import FixAt
from ._rounds import RoundSettings
from ._space import fit_into
from ._trials import advance
from ._trials import finished_copy
from ._trials import load_evidence
from ._warnings import warn


if TYPE_CHECKING:
    from optuna.importance import BaseImportanceEvaluator
    from optuna.study import Study


# Under "optuna." so that optuna.logging.set_verbosity and its handler apply, as to Optuna's own messages.
_logger = get_logger(f"optuna.{__name__}")


@experimental_class("0.1.0")
class MIPSampler(BaseSampler):
    """Minimum Importance Pruning (MIP) as an Optuna sampler.

    MIP is made for objectives so expensive that only a few dozen trials are affordable, such as
    finding a cheap training budget whose results still rank architectures like full training.
    It samples cheap settings more often (Eq. 2), and every ``samples_per_round`` finished trials
    it fits a random forest on all of them and *prunes* the least important free
    parameter (Eq. 3-9): fixes it at its cheapest value if its importance is below
    ``importance_threshold``, else at its value in the best trial (or, with
    ``fix_at="predicted"``, at the value the forest predicts best). When every parameter is
    fixed, the search is over and the sampler stops the study (:meth:`optuna.study.Study.stop`,
    as :class:`~optuna.samplers.BruteForceSampler` does); the best budget is
    :attr:`optuna.study.Study.best_trial`. With ``n`` parameters that takes
    ``n * samples_per_round`` finished trials (see :func:`~optuna_mip.required_trials`).

    "Finished" means COMPLETE, or PRUNED after at least one ``trial.report``: as
    :class:`~optuna.samplers.TPESampler` does, MIP learns from pruned trials, so that rounds go on
    when a pruner stops most trials early. A pruned trial enters the forest with its last reported
    value, and is "the best trial" only when no complete trial is available (then the one that got
    furthest wins). Report values on the objective's scale for this to mean something.

    This sampler is based on *independent sampling*: Eq. 2 draws each parameter from its own
    distribution (the joint is the product), so a relative search space would add nothing, and
    per-parameter sampling handles conditional and dynamic search spaces for free.

    Sampling:
        * :class:`~optuna.distributions.CategoricalDistribution` and stepped/bounded
          :class:`~optuna.distributions.IntDistribution` /
          :class:`~optuna.distributions.FloatDistribution` (at most 1000 values) with a cost for
          every value: softmax of Eq. 2 over min-max normalised costs (see
          :mod:`optuna_mip._cost`).
        * Everything else (no ``cost``, a parameter without cost, continuous or log floats, huge
          integer ranges): uniform in the distribution's (log) range, exactly as
          :class:`~optuna.samplers.RandomSampler` samples it. When pruned, such a parameter is
          fixed at the best trial's value.
        * A fixed parameter returns its fixed value. If a dynamic search space no longer
          contains it, a numeric parameter takes the nearest legal value and a categorical one
          is sampled as if it were free.

    State:
        Decisions are not kept on the sampler. Round ``s`` is a pure function of the first
        ``s * samples_per_round`` finished trials (by trial number) and a forest seed derived
        from ``seed``; it is written to the study's system attributes only if absent and read
        back from there. A study resumed in another process, or optimized by several processes
        sharing one RDB storage, therefore makes each decision once and the same way. See
        :func:`~optuna_mip.pruning_history` and :meth:`fixed_params`. The sampler writes no
        other study attribute; :class:`~optuna_mip.PublishDecisions` mirrors the decisions into
        user attributes and an optuna-dashboard note.

        Once a round is decided, the sampler keeps its place in the trials, so a trial costs
        the same whether it is the 50th or the 5000th (the forest is fitted once per round).

        Rounds count *all* of the study's trials, deliberately: trials added with
        :meth:`~optuna.study.Study.add_trial` or sampled by another sampler are evidence like
        MIP's own (that is what a warm start is for). A study that already holds
        ``n * samples_per_round`` finished trials therefore has every round decided at MIP's
        first trial, one after another on the first ``s * samples_per_round`` trials, and
        stops after it; to search again, start a new study and enqueue or add fewer trials.

        The first worker to touch a study stores ``samples_per_round``,
        ``importance_threshold``, ``fix_at``, the forest seed and the evaluator's class name in
        it; a worker configured differently warns and follows the stored numbers. ``cost``,
        ``temperature`` and the evaluator itself cannot be stored (a cost may be a function)
        and must be the same in every worker.

    Stalled rounds:
        A round is only decided once every trial numbered below its last evidence trial has
        finished (otherwise workers could disagree on the evidence). A trial left RUNNING
        forever, by a worker killed without a heartbeat or a ``study.ask()`` never told, holds
        back every later round: trials keep being sampled with the values fixed so far. When
        a round has waited for more than ``samples_per_round`` finished trials beyond what it
        needs, the sampler logs a warning naming the trial, once. Fix it by telling the trial
        (``study.tell(number, state=TrialState.FAIL)``), or by running workers on an
        :class:`~optuna.storages.RDBStorage` with ``heartbeat_interval`` so that
        :func:`~optuna.storages.fail_stale_trials` (called by ``study.optimize``) fails trials
        of dead workers.

    Conditional parameters:
        A free parameter that no trial since the previous decision has used, and whose parent
        (a fixed parameter that every trial using it has) was fixed at a value none of those
        trials had, is retired at its value in the best trial that had it, recorded as a
        decision with reason ``"unused"``, together with the next round's decision, so it does
        not spend a round. A child whose parent is still free is not retired: it may just not
        have come up.

    Constraints:
        With ``constraints_func`` (or, on Optuna 5, ``trial.set_constraint``, which Optuna 5
        prefers: ``constraints_func`` then warns), a pruned parameter is fixed at its value in
        the best *feasible* trial (all constraints ``<= 0``), as
        :attr:`optuna.study.Study.best_trial` picks it; with ``fix_at="predicted"`` the forest
        that predicts the best value is fitted on the feasible trials. Constraints are evaluated
        for complete and pruned trials; NaN raises, as in Optuna's samplers.

    Multi-objective studies:
        MIP prunes towards "the best trial", which a multi-objective study does not have: like
        Optuna's single-objective samplers, it raises :class:`ValueError`.

    Example:

        .. code-block:: python

            import optuna
            import optuna_mip

            flops = {"epochs": {10: 1.0, 30: 3.0, 50: 5.0}, "channels": {8: 1.0, 16: 4.0}}


            def objective(trial):
                epochs = trial.suggest_categorical("epochs", [10, 30, 50])
                channels = trial.suggest_categorical("channels", [8, 16])
                lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
                return train_and_score(epochs, channels, lr)


            sampler = optuna_mip.MIPSampler(cost=flops, seed=0)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            # Stops by itself after 3 rounds of 10 trials, when every parameter is fixed.
            study.optimize(objective, n_trials=100, callbacks=[optuna_mip.PublishDecisions()])
            print(optuna_mip.pruning_history(study), study.best_params)

    Args:
        cost:
            Cost of each value, e.g. FLOPs or training time. Either a mapping
            ``{param_name: {value: cost}}`` or a callable ``(param_name, value) -> float``
            returning :obj:`None` for parameters it does not price. :obj:`None` (default)
            samples uniformly.
        temperature:
            ``T`` of the softmax ``exp(-c / T)`` over costs normalised to ``[0, 1]``: the most
            expensive value of a parameter is ``exp(1 / T)`` times less likely than the
            cheapest. Lower is greedier.
        samples_per_round:
            ``K``, finished (complete, or pruned after a report) trials per round (the paper
            uses 10).
        importance_threshold:
            A pruned parameter whose importance (share among the free parameters) is below this
            is fixed at its cheapest value, otherwise at the best trial's value.
        importance_evaluator:
            How importance is measured: any :class:`~optuna.importance.BaseImportanceEvaluator`,
            e.g. :class:`~optuna_mip.importance.NullCorrectedImportanceEvaluator` (MDI minus its
            value under shuffled objectives, which stops parameters with many values, or
            continuous ones, from looking important by chance),
            :class:`~optuna.importance.FanovaImportanceEvaluator` or
            :class:`~optuna.importance.PedAnovaImportanceEvaluator`. Pass it a ``seed`` so that
            workers agree. :obj:`None` (default) is the paper's mean decrease in impurity
            (:class:`~optuna_mip.importance.ForestImportanceEvaluator`) seeded from ``seed``.
            Optuna's evaluators skip parameters missing from some trials; those count as
            unimportant.
        fix_at:
            Where an important parameter (importance at least ``importance_threshold``) is
            fixed. ``"best_trial"`` (default, the paper's rule) takes its value in the best
            (feasible) trial. ``"predicted"`` takes the value a random forest fitted on the
            round's trials predicts best on average over them (partial dependence), which a
            noisy objective cannot mislead with one lucky trial (the forest is the paper's MDI
            forest, whatever ``importance_evaluator`` is). Retirements of unused parameters
            and cheapest-value decisions are the same under both. ``benchmarks/
            bench_mip_settings.py`` compares them.
        constraints_func:
            As in Optuna's samplers: a function of a finished trial returning constraint values,
            feasible when all are ``<= 0``. Stored in the trial's ``constraints`` system attribute.
        seed:
            Seed for sampling and for the random forest. Each value is drawn from a generator
            derived from ``(seed, trial number, parameter name)``, so results do not depend on
            thread or process scheduling. With :obj:`None`, sampling is random per process and
            the forest seed is 0, so that workers still agree on decisions.
        stop_when_done:
            Stop ``study.optimize`` once every parameter is fixed (default). With :obj:`False`
            the study runs its ``n_trials`` at the final setting, e.g. to measure a noisy
            objective there again; the sampler says once that every parameter is fixed.
    """

    def __init__(
        self,
        cost: Cost = None,
        *,
        temperature: float = 1.0,
        samples_per_round: int = 10,
        importance_threshold: float = 0.1,
        importance_evaluator: BaseImportanceEvaluator | None = None,
        fix_at: FixAt = "best_trial",
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        seed: int | None = None,
        stop_when_done: bool = True,
    ) -> None:
        if not temperature > 0:
            raise ValueError(f"`temperature` must be positive, got {temperature}.")
        if int(samples_per_round) != samples_per_round or samples_per_round < 1:
            raise ValueError(
                f"`samples_per_round` must be a positive int, got {samples_per_round}."
            )
        if not importance_threshold >= 0:
            raise ValueError(f"`importance_threshold` must be >= 0, got {importance_threshold}.")

        self._cost_model = CostModel(cost)
        self._temperature = float(temperature)
        self._evaluator = importance_evaluator
        self._constraints_func = constraints_func
        self._stop_when_done = bool(stop_when_done)
        if constraints_func is not None and hasattr(FrozenTrial, "set_constraint"):
            warn(
                "MIPSampler(constraints_func=...) follows Optuna 5, which deprecates it in its "
                "samplers: call trial.set_constraint(name, value) in the objective instead.",
                FutureWarning,
                stacklevel=2,
            )
        self._settings = RoundSettings(
            samples_per_round=int(samples_per_round),
            importance_threshold=float(importance_threshold),
            forest_seed=derive_seed(0 if seed is None else seed, "forest-base"),
            importance_evaluator=(
                "ForestImportanceEvaluator"
                if importance_evaluator is None
                else type(importance_evaluator).__name__
            ),
            fix_at=fix_at,
            temperature=self._temperature,
            cost=self._cost_model.fingerprint(),
            evaluator_settings=evaluator_fingerprint(importance_evaluator),
        )
        # Only read after construction, so threads sharing the sampler (n_jobs > 1) never race.
        entropy = np.random.SeedSequence().entropy if seed is None else seed
        self._sampling_seed = int(entropy)  # type: ignore[arg-type]
        self._init_caches()

    def _init_caches(self) -> None:
        # Facts about a study that never change once true, per study: its recorded decisions
        # and settings, where the scan for the next round's evidence stopped, which stalls were
        # reported and whether the end was announced. Rebuilt, not pickled.
        self._lock = threading.Lock()
        self._known: dict[tuple[int, int], tuple[RoundSettings, list[PruningDecision]]] = {}
        self._scans: dict[tuple[int, int], EvidenceScan] = {}
        self._reported_stalls: set[tuple[int, int, int, int]] = set()
        self._finished: set[tuple[int, int]] = set()
        self._fixed_of_running: dict[tuple[int, int], dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        caches = (
            "_lock",
            "_known",
            "_scans",
            "_reported_stalls",
            "_finished",
            "_fixed_of_running",
        )
        for name in caches:
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    @staticmethod
    def fixed_params(study: Study) -> dict[str, Any]:
        """The parameters fixed so far in ``study`` and their values.

        A static method because the decisions live in the study, not in the sampler: it works on
        a study loaded without a :class:`MIPSampler`, too.
        """

        return fixed_from_decisions(pruning_history(study))

    def sampling_probabilities(
        self, param_name: str, distribution: BaseDistribution
    ) -> dict[Any, float] | None:
        """Eq. 2 probabilities of the values of a free parameter, or :obj:`None` if uniform.

        Useful to choose ``temperature`` before spending compute: it shows how often each value
        will be tried.
        """

        costed = self._cost_model.normalized_costs(param_name, distribution)
        if costed is None:
            return None
        values, costs = costed
        return dict(zip(values, softmax_probabilities(costs, self._temperature).tolist()))

    def reseed_rng(self) -> None:
        # Nothing to reseed: every value comes from a generator derived from the trial number,
        # so copies of the sampler in parallel threads cannot draw the same values.
        pass

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Decide any round that became determinable (e.g. two workers finished the last trials
        # of a round at the same moment, so neither could see the other as complete), then pin
        # the fixed values on the trial so that all its parameters see the same round.
        self._raise_error_if_multi_objective(study)
        decisions, _ = self._settle(study, None, latest=trial.number)
        fixed = fixed_from_decisions(decisions)
        study._storage.set_trial_system_attr(trial._trial_id, TRIAL_FIXED_KEY, fixed)
        # Kept until the trial ends: reading it back from the trial costs a storage call per
        # parameter (Optuna loads trial system attributes lazily).
        self._fixed_of_running[(id(study._storage), trial._trial_id)] = fixed

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        fixed = self._fixed_of_running.get((id(study._storage), trial._trial_id))
        if fixed is None:  # Not started by this sampler's before_trial, e.g. called directly.
            fixed = trial.system_attrs.get(TRIAL_FIXED_KEY)
        if fixed is None:
            fixed = self.fixed_params(study)
        if param_name in fixed:
            value = fit_into(param_distribution, fixed[param_name])
            if value is not None:
                return value

        seed = derive_seed(self._sampling_seed, trial.number, param_name)
        costed = self._cost_model.normalized_costs(param_name, param_distribution)
        if costed is None:
            return RandomSampler(seed=seed).sample_independent(
                study, trial, param_name, param_distribution
            )
        values, costs = costed
        probabilities = softmax_probabilities(costs, self._temperature)
        return values[int(np.random.default_rng(seed).choice(len(values), p=probabilities))]

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._constraints_func is not None and state in (
            TrialState.COMPLETE,
            TrialState.PRUNED,
        ):
            # Optuna's own handling: NaN constraints raise, values land in ``constraints``.
            _process_constraints_after_trial(self._constraints_func, study, trial, state)
            trial = study._storage.get_trial(trial._trial_id)
        self._fixed_of_running.pop((id(study._storage), trial._trial_id), None)
        # The storage still has the trial as RUNNING; decide with its final state and values.
        finishing = finished_copy(trial, state, values)
        decisions, scan = self._settle(study, finishing, latest=trial.number)
        if decisions and not scan.has_free and all(n in scan.fixed for n in trial.params):
            self._stop(study, decisions)

    def _stop(self, study: Study, decisions: Sequence[PruningDecision]) -> None:
        """Every parameter is fixed: stop ``study.optimize``, as Optuna's grid samplers do."""

        key = (id(study._storage), study._study_id)
        stopped = False
        if self._stop_when_done:
            try:
                study.stop()
                stopped = True
            except RuntimeError:  # Ask-and-tell: there is no optimize loop to stop.
                pass
        if key in self._finished:
            return
        self._finished.add(key)
        if stopped:
            _logger.info("MIP has fixed every parameter; stopping the study.")
        else:
            _logger.warning(
                f"MIP has fixed all {len(decisions)} parameters; further trials repeat "
                f"{fixed_from_decisions(decisions)}."
            )

    def _settle(
        self, study: Study, finishing: FrozenTrial | None, latest: int
    ) -> tuple[list[PruningDecision], EvidenceScan]:
        """Record every decision that is determinable now; return all recorded decisions and
        the scan for the next round.

        The study's attributes are read once per study and then only when a round is due:
        recorded decisions never change, and a round another worker recorded is due for this
        worker at the same trial (the scan reads the same trials), where
        :func:`~optuna_mip._history.record_decision` reads the stored decision back.
        """

        from .importance import ForestImportanceEvaluator

        settings, decisions = self._known_state(study)
        evaluator = self._evaluator or ForestImportanceEvaluator(seed=settings.forest_seed)
        while True:
            with self._lock:
                scan = advance(
                    self._scan(study, decisions, settings), study, finishing, running=latest
                )
            if not scan.ready:
                self._report_stall(study, scan, decisions, settings, finishing, latest)
                return list(decisions), scan
            used = load_evidence(study, scan, finishing)
            for decision in decide_round(
                used, decisions, settings, evaluator, self._cost_model, study.direction
            ):
                decision = record_decision(study, decision)
                with self._lock:
                    if len(decisions) < decision.round:
                        decisions.append(decision)
                        _logger.info(f"MIP {decision.summary()}.")

    def _known_state(self, study: Study) -> tuple[RoundSettings, list[PruningDecision]]:
        key = (id(study._storage), study._study_id)
        known = self._known.get(key)
        if known is None:
            system_attrs = study._storage.get_study_system_attrs(study._study_id)
            settings = self._study_settings(study, system_attrs)
            known = self._known.setdefault(
                key, (settings, decisions_from_system_attrs(system_attrs))
            )
        return known

    def _scan(
        self, study: Study, decisions: Sequence[PruningDecision], settings: RoundSettings
    ) -> EvidenceScan:
        """The kept scan of ``study`` for the round after ``decisions``, or a fresh one."""

        key = (id(study._storage), study._study_id)
        needed = complete_trials_needed(decisions, settings.samples_per_round)
        fixed = frozenset(d.param for d in decisions)
        scan = self._scans.get(key)
        if scan is None or scan.needed != needed or scan.fixed != fixed:
            scan = self._scans[key] = EvidenceScan(needed, fixed)
        return scan

    def _report_stall(
        self,
        study: Study,
        scan: EvidenceScan,
        decisions: Sequence[PruningDecision],
        settings: RoundSettings,
        finishing: FrozenTrial | None,
        latest: int,
    ) -> None:
        """Warn once when an unfinished trial holds back a round by more than a round's worth."""

        blocker = scan.next_number
        if blocker >= latest:
            return  # Stopped at the end of the study, or at the trial being finished.
        key = (id(study._storage), study._study_id, len(decisions), blocker)
        patience = scan.needed + settings.samples_per_round
        # Cheap bound first: at most ``latest - blocker`` trials completed after the blocker.
        if key in self._reported_stalls or scan.n_complete + latest - blocker < patience:
            return
        n_complete = sum(
            study._storage.get_n_trials(study._study_id, state=state) for state in _FINISHED
        )
        n_complete += finishing is not None and finishing.state in _FINISHED
        if n_complete < patience or not _is_stale(study, blocker) or _all_fixed(study, decisions):
            return
        self._reported_stalls.add(key)
        _logger.warning(
            f"MIP round {len(decisions) + 1} needs {scan.needed} finished trials and has "
            f"{n_complete}, but trial {blocker} is still RUNNING or WAITING, and no round is "
            "decided while a trial numbered below its evidence may still complete. If that "
            "trial's worker died or the trial was asked and never told, fail it: "
            f"study.tell({blocker}, state=optuna.trial.TrialState.FAIL), or run workers on an "
            "RDBStorage with heartbeat_interval so that optuna.storages.fail_stale_trials fails "
            "it. Until then trials are sampled with the values fixed so far."
        )

    def _study_settings(self, study: Study, system_attrs: dict[str, Any]) -> RoundSettings:
        """The settings stored in the study (the first worker's), storing ours if none are."""

        mine = self._settings.to_dict()
        stored = system_attrs.get(CONFIG_KEY)
        if stored is None:
            study._storage.set_study_system_attr(study._study_id, CONFIG_KEY, mine)
            return self._settings
        # A key an older version did not store has its default; an unknown fingerprint (None)
        # is not compared.
        followed = RoundSettings(**stored)
        theirs = followed.to_dict()
        differing = [k for k in mine if theirs[k] is not None and theirs[k] != mine[k]]
        if differing:
            warn(
                f"MIPSampler settings differ from those stored in the study in {differing} "
                f"(here {[mine[k] for k in differing]}, stored {[theirs[k] for k in differing]}): "
                "decisions follow the stored numbers, but cost, temperature and the importance "
                "evaluator cannot be stored; configure every worker alike.",
                stacklevel=4,
            )
        return followed


# A bound for stall reports; a pruned trial without reports is no evidence, but rarely exists.
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _is_stale(study: Study, number: int) -> bool:
    """Whether trial ``number`` may be a dead worker's: on a storage with heartbeats, only when
    its heartbeat is stale (a live worker's trial holds a round back only until it finishes);
    without heartbeats there is no telling, so it may be."""
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return True
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    return trial_id in storage._get_stale_trial_ids(study._study_id)  # type: ignore[attr-defined]


def _all_fixed(study: Study, decisions: Sequence[PruningDecision]) -> bool:
    """Whether every parameter of the finished trials is fixed: then there is no next round."""
    fixed = {decision.param for decision in decisions}
    finished = study.get_trials(deepcopy=False, states=_FINISHED)
    return bool(finished) and all(name in fixed for trial in finished for name in trial.params)
