"""Search the best budget (BPE) for ranking DARTS architectures on CIFAR-10 with MIP: on the authors'
recorded trainings first (seconds), then by training here (minutes), and put both side by side.

1. The paper authors trained 100 reference architectures under 32 budgets (3,200 trainings, in
   ``--recorded``). MIP searches those budgets, each suggestion answered by the nearest recorded one,
   and so do TPE and random search for the same number of trials, in the same storage: which budget
   MIP finds, what it spent (the GPU-hours of the budgets it asked for) and what the others found
   with as much spent, with the importance table and the Fig. 4 curves of real data.
2. The same sampler searches budgets by training: each trial trains ``--architectures`` reference
   architectures under the suggested budget (cached in the study's database: a budget seen before
   costs nothing) and scores it by Eq. 1 (r_s against full training minus a cost penalty). MIP
   fixes one hyper-parameter every ``samples_per_round`` trials and stops once all are fixed.

    .venv/bin/python examples/mip_cifar10.py --preset demo    # minutes on a 2-core CPU (README: what was measured)
    .venv/bin/python examples/mip_cifar10.py --preset full    # the paper's setting: days on a GPU

The report (``report.md`` in the report folder) puts the two answers side by side; each has its
own full report in ``recorded/`` and ``trained/``. Progress: one line per trial with the time left.
Ctrl-C stops it (the running trial is recorded as failed: no evidence for MIP); the same command continues. A second
worker joins with the same command and ``--storage postgresql://...`` (see README).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import sqlalchemy.engine
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState

import nas
import nas.search
from nas.search import complete_trials
import optuna_mip
from _run import Interruptible, dashboard_command
from nas._progress import Progress
from nas.budget_search import DEFAULT_PRUNER, PRUNERS, make_pruner, noise_verdict, pruned_summary, spend_curve
from nas.cli._common import HelpFormatter, device_from_args, set_threads

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# This example relies on purpose on features marked experimental: optuna-mip's sampler and callbacks,
# and Optuna's heartbeats (README); a warning about each on every run would only be noise.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

# Written into the report folder: a run on another storage or study must not overwrite this one's report.
REPORT_OWNER = "study.json"


@dataclass(frozen=True)
class Preset:
    space: str
    architectures: int
    samples_per_round: int
    storage: str


PRESETS = {
    # 6 architectures spread over the accuracy range, 3 hyper-parameters with 2 values, 2 trials a round.
    "demo": Preset(space="demo", architectures=6, samples_per_round=2, storage=f"sqlite:///{ROOT / 'runs' / 'mip_demo.db'}"),
    # The paper: 100 architectures, its 8 hyper-parameters, K = 10 trials a round.
    "full": Preset(space="paper", architectures=100, samples_per_round=10, storage=f"sqlite:///{ROOT / 'runs' / 'mip_full.db'}"),
}

# The searches of the recorded budgets: the paper's MIP (K = 10) against TPE and random search.
RECORDED_SAMPLERS: dict[str, Callable[[nas.BudgetSpace, int], optuna.samplers.BaseSampler]] = {
    "MIP": lambda space, seed: optuna_mip.MIPSampler(cost=space.value_costs(), seed=seed),
    "TPE": lambda space, seed: optuna.samplers.TPESampler(seed=seed),
    "random": lambda space, seed: optuna.samplers.RandomSampler(seed=seed),
}


def spread(architectures: list[nas.Architecture], count: int) -> list[nas.Architecture]:
    """``count`` (at least 2) architectures evenly spaced in full-training accuracy: a wide spread ranks less noisily."""
    if count >= len(architectures):
        return architectures
    ranked = sorted(architectures, key=lambda arch: arch.accuracy)
    return [ranked[round(i * (len(ranked) - 1) / (count - 1))] for i in range(count)]


def storage_identity(url: str) -> str:
    """The storage a URL names, written the same however it was typed (SQLite: the resolved file), without a password."""
    if url.startswith("sqlite:///"):
        return f"sqlite:///{Path(url.removeprefix('sqlite:///')).resolve()}"
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        raise nas.NasError(f"not a storage URL: {nas.display_url(url)!r}") from None


def report_folder(study_name: str) -> Path:
    """runs/<study name>, the name made one folder name: no path separators or '..', not too long."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", study_name).lstrip(".") or "study"
    if len(name) > 100:
        name = f"{name[:80]}-{hashlib.sha256(study_name.encode()).hexdigest()[:12]}"
    return ROOT / "runs" / name


def check_report_folder(out: Path, owner: dict[str, str]) -> None:
    """Claim the report folder for this study at start, or refuse one that holds (or that a run
    started at the same time claimed for) another study's report: another --storage or --study-name."""
    marker = out / REPORT_OWNER
    try:
        out.mkdir(parents=True, exist_ok=True)
        claim = out / f".{REPORT_OWNER}.{os.getpid()}"
        claim.write_text(json.dumps(owner))
        try:
            os.link(claim, marker)  # exclusive: of two runs, one claims it
        except FileExistsError:
            pass
        finally:
            claim.unlink()
        other = json.loads(marker.read_text())
    except OSError as error:
        raise nas.NasError(f"cannot use report folder {out}: {error.strerror}") from None
    if other != owner:
        raise nas.NasError(
            f"{out} holds the report of study {other.get('study')!r} in {other.get('storage')}; pass --out for this one"
        )


# ------------------------------------------------------------------------------ recorded budgets


@dataclass(frozen=True)
class RecordedSearch:
    """One search of the recorded budgets: its complete trials in order and the GPU-hours they cost.

    A trial costs what training all architectures under its recorded budget took the authors, the
    first time that budget is asked for (after that the result cache answers).
    """

    method: str
    study: optuna.Study
    architectures: int

    @property
    def trials(self) -> list[FrozenTrial]:
        return complete_trials(self.study)

    def spend(self) -> np.ndarray:
        return spend_curve(self.trials, "gpu_hours") * self.architectures

    def total(self) -> float:
        spend = self.spend()
        return float(spend[-1]) if spend.size else 0.0

    def best_within(self, gpu_hours: float) -> tuple[FrozenTrial | None, int]:
        """The best trial among those run before ``gpu_hours`` were spent, and how many those were."""
        within = [trial for trial, spent in zip(self.trials, self.spend()) if spent <= gpu_hours * (1 + 1e-9)]
        return max(within, key=lambda t: t.value, default=None), len(within)

    def spend_to_reach(self, setting: str) -> float | None:
        return next((float(s) for t, s in zip(self.trials, self.spend()) if t.user_attrs["setting"] == setting), None)


def eq1_best(objective: nas.RecordedObjective) -> nas.RecordedBudget:
    """The recorded budget with the highest Eq. 1 objective: what the searches should find."""
    most = max(r.gpu_hours for r in objective.recorded)
    return max(objective.recorded, key=lambda r: r.correlation.spearman - objective.penalty * r.gpu_hours / most)


def _stored_in_full(storage: optuna.storages.BaseStorage, name: str, needed: int) -> bool:
    """Whether study ``name`` holds a whole search; one cut short while being copied is deleted."""
    if name not in {summary.study_name for summary in optuna.get_all_study_summaries(storage)}:
        return False
    if len(complete_trials(optuna.load_study(study_name=name, storage=storage))) >= needed:
        return True
    optuna.delete_study(study_name=name, storage=storage)
    return False


def run_recorded(
    storage: optuna.storages.BaseStorage, name: str, objective: nas.RecordedObjective, interruptible: Interruptible, seed: int
) -> list[RecordedSearch]:
    """MIP, TPE and random search on the recorded budgets, MIP's n * K trials each, stored as studies
    ``<name>-recorded-<method>``; ``interruptible`` wraps ``objective``.

    Each search runs in memory and is copied into ``storage`` when done: a few hundred trials in
    seconds, where a database commit per trial attribute would take minutes. Stored ones are reused.
    """
    needed = optuna_mip.required_trials(len(objective.space.values))
    architectures = max(len(r.pairs) for r in objective.recorded)
    searches = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # 240 "Trial k finished" lines would bury the answer
    try:
        with Progress(len(RECORDED_SAMPLERS), "searches of the recorded budgets") as progress:
            for method, make_sampler in RECORDED_SAMPLERS.items():
                study_name = f"{name}-recorded-{method.lower()}"
                if not _stored_in_full(storage, study_name, needed):
                    memory_storage = optuna.storages.InMemoryStorage()
                    # No pruner: the searches are compared unpruned, as bench_budget_search.py's rows without one.
                    memory = optuna.create_study(
                        storage=memory_storage, direction="maximize", sampler=make_sampler(objective.space, seed),
                        pruner=optuna.pruners.NopPruner(),
                    )
                    callbacks = [optuna_mip.StopWhenAllFixed(), optuna_mip.PublishDecisions()] if method == "MIP" else []
                    memory.optimize(interruptible, n_trials=needed, callbacks=callbacks)
                    if interruptible.interrupted:
                        raise KeyboardInterrupt
                    try:
                        optuna.copy_study(
                            from_study_name=memory.study_name, from_storage=memory_storage, to_storage=storage, to_study_name=study_name
                        )
                    except optuna.exceptions.DuplicatedStudyError:
                        pass  # a worker started at the same time stored the same seeded search first
                search = RecordedSearch(method, optuna.load_study(study_name=study_name, storage=storage), architectures)
                searches.append(search)
                progress.step(f"{method}: {len(search.trials)} trials, {search.total():.1f} GPU-hours")
    finally:
        optuna.logging.set_verbosity(verbosity)
    return searches


def _trial_text(trial: FrozenTrial) -> str:
    low, high = trial.user_attrs["r_s_ci"]
    return f"{trial.user_attrs['setting']} (r_s {trial.user_attrs['r_s']:.3f} [{low:.2f}, {high:.2f}], objective {trial.value:.3f})"


def compare_recorded(searches: list[RecordedSearch], target: nas.RecordedBudget) -> list[str]:
    """One line per search: what it found with MIP's spend, and what it spent to reach the Eq. 1 best."""
    mip = searches[0]
    lines = []
    for search in searches:
        best, trials = search.best_within(mip.total())
        reached = search.spend_to_reach(target.setting)
        reach = f"reached {target.setting} after {reached:.1f} GPU-h" if reached is not None else f"never reached {target.setting}"
        found = _trial_text(best) if best is not None else "nothing (its first trial cost more)"
        lines.append(
            f"{search.method}: {trials} of {len(search.trials)} trials within {mip.total():.1f} GPU-h, best {found}; "
            f"{reach} (all its trials: {search.total():.1f} GPU-h)"
        )
    return lines


# ------------------------------------------------------------------------------ trained budgets


class TrialProgress:
    """Callback: one line per trial, "finished trials k/n | elapsed | left ~ETA", n being what MIP needs
    (complete trials and pruned ones that reported: both count towards its rounds)."""

    def __init__(self, needed: int, done: int, n_params: int) -> None:
        self.n_params = n_params
        self.progress = Progress(needed, "finished trials", done=done)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        fixed = f"MIP has fixed {len(optuna_mip.MIPSampler.fixed_params(study))} of {self.n_params} hyper-parameters"
        if trial.state == TrialState.COMPLETE:
            self.progress.step(f"trial {trial.number}: r_s {trial.user_attrs['r_s']:.3f}, objective {trial.value:.3f}; {fixed}")
        elif trial.state == TrialState.PRUNED:
            self.progress.step(f"{pruned_summary(trial)}; {fixed}", count=int(trial.last_step is not None))
        elif trial.state == TrialState.FAIL:
            self.progress.step(f"trial {trial.number} failed: {trial.user_attrs.get('reason', 'see the log')}", count=0)

    def close(self) -> None:
        self.progress.close()


def _best_text(study: optuna.Study, space: nas.BudgetSpace) -> str:
    best = study.best_trial
    low, high = best.user_attrs["r_s_ci"]
    return f"{space.budget_of(best.params)}, r_s {best.user_attrs['r_s']:.3f} [{low:.2f}, {high:.2f}], objective {best.value:.3f}"


# ------------------------------------------------------------------------------ side by side


def _fields(trial: FrozenTrial, space: nas.BudgetSpace) -> str:
    budget = trial.user_attrs["budget"]
    return ", ".join(f"{name}={budget[name]}" for name in space.values)


def _interval(trial: FrozenTrial) -> str:
    low, high = trial.user_attrs["r_s_ci"]
    return f"{trial.user_attrs['r_s']:.3f} [{low:.2f}, {high:.2f}]"


def side_by_side(
    objective: nas.RecordedObjective,
    searches: list[RecordedSearch],
    recorded_verdict: str,
    trained: optuna.Study,
    space: nas.BudgetSpace,
    trained_verdict: str,
    n_trained: int,
) -> list[str]:
    """The top report's table: the recorded answer next to the trained one, and what this training cost can tell."""
    mip = searches[0]
    found, best = max(mip.trials, key=lambda t: t.value), trained.best_trial
    trained_trials = complete_trials(trained)
    seconds = float(spend_curve(trained_trials, "mean_seconds")[-1]) * n_trained
    hours = sorted(r.gpu_hours for r in objective.recorded)
    width = {trial.number: trial.user_attrs["r_s_ci"][1] - trial.user_attrs["r_s_ci"][0] for trial in (found, best)}
    rows = [
        ("architectures ranked", f"{mip.architectures}", f"{n_trained}"),
        ("best budget", f"`{found.user_attrs['setting']}`: {_fields(found, objective.space)}", _fields(best, space)),
        ("r_s [95% CI]", _interval(found), _interval(best)),
        ("interval width", f"{width[found.number]:.2f}", f"{width[best.number]:.2f}"),
        ("distinct budgets measured", f"{len({t.user_attrs['setting'] for t in mip.trials})} of {len(objective.recorded)} recorded",
         f"{len({json.dumps(t.user_attrs['budget'], sort_keys=True) for t in trained_trials})} of {math.prod(map(len, space.values.values()))}"),
        ("training spent", f"{mip.total():.1f} GPU-hours (the authors')", f"{seconds:.0f} s here"),
    ]
    ranks = best.user_attrs["r_s_ci"][0] > 0
    return [
        "| | the authors' recorded trainings | trained here |",
        "|---|---|---|",
        *(f"| {label} | {left} | {right} |" for label, left, right in rows),
        "",
        f"- Recorded: {recorded_verdict}",
        f"- Trained here: {trained_verdict}",
        "",
        f"What {seconds / max(len(trained_trials), 1) / n_trained:.0f} s of training per architecture and budget on "
        f"{n_trained} architectures can tell: "
        + ("that the best budget found ranks them better than chance (its interval is clear of 0). " if ranks
           else "not even whether the best budget found ranks them better than chance (its interval holds 0). ")
        + f"What it cannot tell: which budget ranks best, unless the verdict says distinguishable; that needs many more "
        f"architectures, as the recorded data have ({mip.architectures} architectures trained {hours[0]:g} to {hours[-1]:g} "
        "GPU-hours each per budget).",
    ]


# ------------------------------------------------------------------------------ main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="demo", help="demo: a CPU demo; full: the paper's setting")
    parser.add_argument("--storage", help="Optuna storage URL (default: the preset's SQLite file under runs/)")
    parser.add_argument("--study-name", help="default: mip-cifar10-<preset>")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"), help="CIFAR-10 zip or folder")
    parser.add_argument("--recorded", default=str(SHARED / "reference" / "zheng2020"),
                        help="folder of the authors' recorded data: ground_truth.csv (R_f), budgets.csv, budget_accuracies.csv")
    parser.add_argument("--space", help="budget space YAML of the trained search (default: the preset's)")
    parser.add_argument("--architectures", type=int, help="how many reference architectures to train and rank, at least 3 "
                        "(default: the preset's, demo 6, full 100)")
    parser.add_argument("--penalty", type=float, default=0.1, help="lambda of Eq. 1, in [0, 1)")
    parser.add_argument("--pruner", choices=PRUNERS, default=DEFAULT_PRUNER, help="stops a trained budget early on its intermediate r_s")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samplers")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available, else cpu)")
    parser.add_argument("--threads", type=int, help="torch threads for training (default: torch's, all cores; "
                        "give 1 when anything else trains on this machine)")
    parser.add_argument("--out", help="report folder (default: runs/<study name>)")
    parser.add_argument("--quiet", action="store_true", help="only the one line per trial: no per-architecture progress")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    preset = PRESETS[args.preset]
    storage_url = args.storage or preset.storage
    study_name = args.study_name or f"mip-cifar10-{args.preset}"
    out = Path(args.out) if args.out else report_folder(study_name)
    count = preset.architectures if args.architectures is None else args.architectures
    truth = Path(args.recorded) / "ground_truth.csv"
    try:  # everything is checked before a study is made: a bad option leaves no empty study behind
        if count < 3:
            raise nas.NasError(f"--architectures must be at least 3 (r_s ranks them), got {count}")
        if not 0 <= args.penalty < 1:
            raise nas.NasError(f"--penalty must be in [0, 1), got {args.penalty}")
        device = device_from_args(args.device)
        set_threads(args.threads)
        owner = {"storage": storage_identity(storage_url), "study": study_name}
        space = nas.BudgetSpace.from_yaml(args.space or preset.space)
        recorded = nas.RecordedObjective(nas.read_recorded_budgets(args.recorded), penalty=args.penalty)
        reference = nas.read_architectures(truth, with_accuracy=True)
        if count > len(reference):
            raise nas.NasError(f"--architectures {count}, but {truth} has {len(reference)}")
        architectures = spread(reference, count)
        sampler = optuna_mip.MIPSampler(cost=space.value_costs(), samples_per_round=preset.samples_per_round, seed=args.seed)
        pruner = make_pruner(args.pruner, architectures=count)
        dataset = nas.load_dataset(args.data)
        # The storage first, so that a storage that cannot be opened is named as such; heartbeats let a
        # restarted or parallel worker fail the trials of a worker that was killed.
        storage = nas.search.open_storage(storage_url, retry_stale=False)  # MIP's rounds decide what a budget trial retries
        check_report_folder(out, owner)
        store = nas.ResultStore(storage_url)
        objective = nas.TrainingObjective(
            space, architectures, dataset, store, penalty=args.penalty, device=device, progress=not args.quiet
        )
        study = optuna.create_study(
            storage=storage, study_name=study_name, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
        )
    except (nas.NasError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    setup = {"space": space.describe(), "architectures": [arch.name for arch in architectures], "penalty": args.penalty}
    for key, value in setup.items():
        if study.user_attrs.get(key, value) != value:  # a resumed study must keep its objective
            print(f"error: study {study_name!r} was run with a different {key!r}; pass a new --study-name", file=sys.stderr)
            return 2
        study.set_user_attr(key, value)

    # 1. The recorded budgets: seconds.
    print(f"1/2 the authors' recorded trainings: {len(reference)} architectures under each of {len(recorded.recorded)} budgets; "
          f"MIP, TPE and random search, {optuna_mip.required_trials(len(recorded.space.values))} trials each", flush=True)
    interruptible_recorded = Interruptible(recorded)
    try:
        searches = run_recorded(storage, study_name, recorded, interruptible_recorded, args.seed)
    except KeyboardInterrupt:
        interruptible_recorded.interrupted = True
    if interruptible_recorded.interrupted:
        print("\ninterrupted: finished searches are stored; run the same command to continue", file=sys.stderr)
        return 130
    target = eq1_best(recorded)
    recorded_verdict = noise_verdict(searches[0].study, recorded.space, reference_size=len(reference))
    nas.write_report(searches[0].study, recorded.space, out / "recorded", reference_size=len(reference))
    found = max(searches[0].trials, key=lambda t: t.value)
    print(f"recorded: MIP found {_trial_text(found)}; Eq. 1's best of the {len(recorded.recorded)} is {target.setting}")
    for line in compare_recorded(searches, target):
        print(f"  {line}")
    print(f"  {recorded_verdict}\n  report with the importance table and Fig. 4: {out / 'recorded' / 'report.md'}", flush=True)

    # 2. Trained here: minutes.
    needed = optuna_mip.required_trials(len(space.values), preset.samples_per_round)
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    done = len(complete_trials(study)) + sum(trial.last_step is not None for trial in pruned)
    print(f"2/2 trained here: study {study_name!r} in {nas.display_url(storage_url)}: {done} of the {needed} finished trials MIP needs are done; "
          f"{len(architectures)} architectures per trial; fixed so far: {optuna_mip.MIPSampler.fixed_params(study)}", flush=True)
    say = functools.partial(print, file=sys.stderr, flush=True)
    nas.search.fail_stale_trials(study, say)

    def say_stale_trials(study: optuna.Study, trial: FrozenTrial) -> None:
        nas.search.fail_stale_trials(study, say)

    def all_fixed() -> bool:
        return len(optuna_mip.MIPSampler.fixed_params(study)) == len(space.values)

    interruptible, progress = Interruptible(objective), TrialProgress(needed, done, len(space.values))
    try:
        if not all_fixed():  # until every hyper-parameter is fixed: failed trials do not count
            # Failed trials are no evidence for MIP; as many as MIP needs in all means the setup is wrong.
            failing = nas.search.StopAfterFailures(needed)
            callbacks = [optuna_mip.StopWhenAllFixed(), optuna_mip.PublishDecisions(), failing, progress, say_stale_trials]
            study.optimize(interruptible, callbacks=callbacks)
    except KeyboardInterrupt:  # between trials: Optuna has nothing to log
        interruptible.interrupted = True
    finally:
        progress.close()
    if interruptible.interrupted:
        print("\ninterrupted: finished trials and trainings are stored; run the same command to continue", file=sys.stderr)
        return 130
    if not all_fixed():
        print(f"error: {needed} trials failed before MIP finished; see their 'reason' attribute", file=sys.stderr)
        return 1
    trained_verdict = noise_verdict(study, space, reference_size=len(reference))
    nas.write_report(study, space, out / "trained", reference_size=len(reference))
    lines = [
        f"# Budget search with MIP: {study_name}",
        "",
        *side_by_side(recorded, searches, recorded_verdict, study, space, trained_verdict, len(architectures)),
        "",
        "## 1. On the authors' recorded trainings",
        "",
        f"Eq. 1's best of the {len(recorded.recorded)} recorded budgets is `{target.setting}`. Each search ran "
        f"{len(searches[0].trials)} trials or fewer; compared at MIP's spend:",
        "",
        *(f"- {line}" for line in compare_recorded(searches, target)),
        "",
        "Full report (Table 1, MIP's decisions, importance vs. null, Fig. 4): [recorded/report.md](recorded/report.md)",
        "",
        "## 2. Trained here",
        "",
        f"Best budget: {_best_text(study, space)}. Full report: [trained/report.md](trained/report.md)",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    print(f"report: {out / 'report.md'}\ndashboard: {dashboard_command(nas.display_url(storage_url))}")
    print(f"recorded ({len(reference)} architectures): MIP found {_trial_text(found)}. {recorded_verdict.split(':')[0]}.")
    print(f"trained here ({len(architectures)} architectures): best budget {_best_text(study, space)}. {trained_verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
