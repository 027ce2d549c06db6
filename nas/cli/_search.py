"""Architecture-search commands: search (a resumable, shareable Optuna study) and evaluate (final training)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

from nas._errors import NasError, display_url, safe_name
from nas.cli._common import (
    DEFAULT_STORAGE,
    Commands,
    budget_from_args,
    device_from_args,
    emit,
    load_data,
    set_threads,
    training_options,
)

PRUNERS = ("none", "median", "hyperband")
MAX_STUDY_NAME = 512  # the length of Optuna's study_name column


def _pruner(name: str, epochs: int):
    import optuna

    if name == "median":
        # Compare from the first epoch on, once a few trainings have run to their end.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise NasError(f"unknown pruner {name!r} (known: {', '.join(PRUNERS)})")


def _default_study_name(strategy: str, args: argparse.Namespace, setup: dict) -> str:
    # What a setup adds beyond strategy, budget and dataset (an estimator, DARTS's genotype epoch)
    # changes the digest, so that searches differing only there do not collide on one name.
    extra = [setup[key] for key in ("estimator", "darts_genotype") if key in setup]
    digest = hashlib.sha256(json.dumps([setup["budget"], setup["dataset"], *extra], sort_keys=True).encode()).hexdigest()
    return f"{strategy}-{args.budget}-{digest[:8]}"


def _search(args: argparse.Namespace) -> int:
    from nas.estimation._budget import refuse_test_split
    from nas.search._strategies import make_sampler

    darts = args.strategy == "darts"  # one DARTS search per trial; its seed and order are the trial's parameters
    if not darts:
        make_sampler(args.strategy)  # every input is checked before a study or a result is written
    if args.estimator is not None:
        if darts:
            raise NasError("--estimator applies to the sampler strategies; a DARTS trial's value is its supernet's accuracy")
        from nas.estimation._registry import estimator_kind

        estimator_kind(args.estimator)
    budget = budget_from_args(args)
    refuse_test_split(budget, "an architecture search")
    if darts:
        from nas.oneshot._darts import check_genotype_epoch, check_order
        from nas.oneshot._supernet import check_supernet_budget

        check_supernet_budget(budget)
        if args.order is not None:
            check_order(args.order)
        check_genotype_epoch(args.darts_genotype)
    pruner = _pruner(args.pruner, budget.epochs)
    if args.trials < 1:
        raise NasError(f"--trials must be >= 1, got {args.trials}")
    # Imported once the options are checked, so that a mistyped one is refused without loading torch.
    import optuna

    from nas._progress import Progress
    from nas.estimation._trainer import make_splits
    from nas.oneshot._objective import DartsObjective
    from nas.search import (
        ArchitectureObjective,
        StopAfterFailures,
        TrialSeededSampler,
        check_study,
        complete_trials,
        create_search_study,
        fail_stale_trials,
        open_storage,
        search_setup,
        settle_running_trials,
        trial_line,
    )
    from nas.store import ResultStore

    device = device_from_args(args.device)
    set_threads(args.threads)
    dataset = load_data(args)
    make_splits(dataset, budget)
    setup = search_setup(args.strategy, budget, dataset, estimator=args.estimator, darts_genotype=args.darts_genotype if darts else "last")
    name = args.study_name or _default_study_name(args.strategy, args, setup)
    if len(name) > MAX_STUDY_NAME:
        raise NasError(f"--study-name {safe_name(name)!r} has {len(name)} characters; a storage holds at most {MAX_STUDY_NAME}")
    if args.heartbeat_grace <= 0:
        raise NasError(f"--heartbeat-grace must be > 0, got {args.heartbeat_grace}")
    storage = open_storage(args.storage, args.heartbeat_grace)
    existing = check_study(storage, name, setup)
    # A trial-seeded sampler (evolution, REINFORCE, a plugin's) draws by (seed, trial number): resumed,
    # it goes on as one uninterrupted run. Any other (Optuna's RandomSampler) draws one sequence per
    # process, which a resumed run or a second worker would replay: offset its seed by the trials there.
    if darts:
        sampler = optuna.samplers.RandomSampler(None if args.seed is None else args.seed + existing)
    else:
        sampler = make_sampler(args.strategy, args.seed)
        if args.seed is not None and existing and not isinstance(sampler, TrialSeededSampler):
            sampler = make_sampler(args.strategy, args.seed + existing)
    study = create_search_study(storage, name, setup, sampler, pruner)
    # Per-trial lines say enough; a training bar only on a terminal.
    bars = not args.quiet and sys.stderr.isatty()
    if darts:
        objective = DartsObjective(
            budget, dataset, checkpoint_dir=args.checkpoint_dir, order=args.order, genotype_epoch=args.darts_genotype, device=device, progress=bars
        )
    else:
        objective = ArchitectureObjective(budget, dataset, ResultStore(args.storage), device=device, progress=bars, estimator=args.estimator)
    # --trials counts finished trials, complete or pruned: a pruner that prunes most would otherwise never let it end.
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=finished_states))

    done = finished()
    print(
        f"study {safe_name(name)!r} in {display_url(args.storage)}: {done} of {args.trials} trials finished (complete or pruned)",
        file=sys.stderr,
    )

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if done >= args.trials:
        settle_running_trials(study, say)
    else:
        fail_stale_trials(study, say)
    failures = StopAfterFailures(args.trials)

    with Progress(args.trials, "search", done=min(done, args.trials), quiet=args.quiet) as progress:

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            progress.step(trial_line(trial, study), count=min(finished(), args.trials) - progress.done)
            fail_stale_trials(study, say)

        if done < args.trials:
            stop = optuna.study.MaxTrialsCallback(args.trials, states=finished_states)
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study.optimize(objective, callbacks=[stop, failures, after_trial], gc_after_trial=False)
    trials = complete_trials(study)
    if finished() < args.trials or not trials:
        print(f"error: {failures.failures} trials failed before {args.trials} finished; see their 'reason' attribute", file=sys.stderr)
        return 1
    best = study.best_trial
    summary = {
        "study": name,
        "storage": display_url(args.storage),
        "strategy": args.strategy,
        "n_complete": len(trials),
        "best": {
            "trial": best.number,
            "value": best.value,
            "hash": best.user_attrs["hash"],
            "genotype": best.user_attrs["genotype"],
            "params": best.user_attrs["params"],
            "flops": best.user_attrs["flops"],
        },
    }
    emit(
        args,
        summary,
        f"{finished()} trials finished, {len(trials)} complete; best trial {best.number}: {args.estimator or 'accuracy'} {best.value:.4f}, "
        f"{best.user_attrs['params'] / 1e6:.3f} M params, hash {best.user_attrs['hash']}\n{best.user_attrs['genotype']}",
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from nas._progress import Progress
    from nas.estimation._estimate import training_checkpoint
    from nas.estimation._final import evaluate_final, on_test_split
    from nas.store import ResultStore
    from nas.space._genotype import parse_genotype

    if (args.genotype is None) == (args.study is None):
        raise NasError("give either a genotype or --study NAME (with --storage and --top K)")
    if args.top < 1:
        raise NasError(f"--top must be >= 1, got {args.top}")
    budget = on_test_split(budget_from_args(args))
    if args.genotype is not None:
        candidates = [(None, parse_genotype(args.genotype))]
    else:
        from nas.search._study import best_genotypes, load_search_study, open_storage

        candidates = best_genotypes(load_search_study(open_storage(args.storage), args.study), args.top)
        if not candidates:
            raise NasError(f"study {args.study!r} has no complete trial yet")
    device = device_from_args(args.device)
    set_threads(args.threads)
    dataset = load_data(args)
    store = ResultStore(args.storage)
    rows, lines = [], []
    with Progress(len(candidates), "evaluate", quiet=args.quiet) as progress:
        for trial, genotype in candidates:
            checkpoint = training_checkpoint(args.checkpoint_dir, genotype, budget, dataset, device)
            if 0 < (done := checkpoint.epochs_done()) < budget.epochs:
                print(f"{genotype.hash()}: resuming from epoch {done} of {budget.epochs} ({checkpoint.folder})", file=sys.stderr)
            result = evaluate_final(
                genotype, budget, dataset, store, checkpoint_dir=args.checkpoint_dir, device=device, progress=not args.quiet
            )
            row = {"trial": None if trial is None else trial.number, "hash": genotype.hash(), "genotype": genotype.to_str()}
            rows.append({**row, **result.to_dict()})  # accuracy: on the test split
            if result.status == "ok":
                line = (
                    f"{genotype.hash()}: test accuracy {result.accuracy:.4f} | params {result.params / 1e6:.3f} M | "
                    f"FLOPs {result.flops / 1e6:.1f} M | {result.seconds:.0f} s"
                )
            else:
                line = f"{genotype.hash()}: failed: {result.reason}"
            lines.append(line)
            progress.step(line)
    emit(args, {"budget": budget.to_dict(), "results": rows}, "\n".join(lines))
    return 0 if all(row["status"] == "ok" for row in rows) else 1


def register(command: Commands) -> None:
    from nas.estimation._final import DEFAULT_CHECKPOINT_DIR
    from nas.search._strategies import STRATEGIES
    from nas.search._heartbeat import GRACE_SECONDS

    sub = command("search", _search, "search architectures with an Optuna sampler under a budget (resumable, parallel)")
    sub.add_argument(
        "--strategy",
        required=True,
        help=f"one of {', '.join(STRATEGIES)} (Optuna samplers over architectures) or one a --plugin registers, or darts (one DARTS search "
        "per trial; its value is the supernet's validation accuracy, which ranks architectures poorly: "
        "evaluate several with nas evaluate --study NAME --top K)",
    )
    sub.add_argument("--trials", type=int, required=True, help="run until this many trials have finished (complete or pruned)")
    training_options(sub)
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL, also the result store (default {DEFAULT_STORAGE})")
    sub.add_argument("--study-name", help="default: <strategy>-<budget>-<digest of budget and dataset>")
    sub.add_argument("--seed", type=int, help="sampler seed (default: random; give each worker its own)")
    sub.add_argument(
        "--heartbeat-grace",
        type=float,
        default=GRACE_SECONDS,
        help="seconds without a heartbeat after which a trial is failed as its worker's death (and its architecture retried)",
    )
    sub.add_argument(
        "--estimator",
        help="the trials' value: a zero-cost proxy (scored untrained at the budget's size) or a learning-curve estimator "
        "(of the budget's training) that nas.estimation knows or a --plugin registers; default: the budget's held-out accuracy",
    )
    sub.add_argument("--pruner", default="none", help=f"stop poor trainings early: {', '.join(PRUNERS)} (default none)")
    sub.add_argument("--order", type=int, help="darts only: 1 (first order) or 2 (second order); default: a trial parameter")
    sub.add_argument("--checkpoint-dir", default="runs/darts-checkpoints", help="darts only: per-epoch checkpoints of each search")
    sub.add_argument(
        "--darts-genotype",
        default="last",
        help="darts only: the genotype of the 'last' epoch (DARTS's code, default) or of the 'best' supernet validation epoch (pt.darts, the authors)",
    )

    sub = command("evaluate", _evaluate, "final training of a genotype, or of a study's best, measured on the test split")
    sub.add_argument("genotype", nargs="?", help="genotype text (or use --study)")
    sub.add_argument("--study", help="evaluate the best --top architectures of this search study")
    sub.add_argument("--top", type=int, default=1, help="how many of the study's best (default 1)")
    training_options(sub, budget="full")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help=f"study storage and result store (default {DEFAULT_STORAGE})")
    sub.add_argument("--checkpoint-dir", default=DEFAULT_CHECKPOINT_DIR, help=f"per-epoch checkpoints (default {DEFAULT_CHECKPOINT_DIR})")
