"""Search DARTS architectures on CIFAR-10 under a small budget, then train the best one again and test it.

Each trial of the Optuna study suggests an architecture (the strategy is the study's sampler), trains
it under the search budget (validation accuracy on the 5,000-image split; a result already in the
database costs nothing) and may be pruned after any epoch. Once ``--trials`` trials have finished
(complete or pruned: both end, so the run does too), the best ``--top`` architectures are trained under the final budget on all training images and
measured on the test split, with a checkpoint every epoch.

    .venv/bin/python examples/search_cifar10.py --strategy evolution --preset demo --threads 1  # 25 min measured on a busy 2-core CPU
    .venv/bin/python examples/search_cifar10.py --strategy evolution --preset paper  # days on a GPU

The demo's evolution has a population of 8 and tournaments of 3 (the paper's: 50 and 10), so that
its 24 trials go past the random population and show mutation at work.

One line per finished trial says whether it completed or was pruned (at which epoch), with the
time left, and for a child which trial evolution mutated. Ctrl-C (the running trial is recorded as
failed, out of the population) or a kill stops it; the same command continues (finished trials,
trainings and epochs are kept). More workers join with the same command and ``--storage postgresql://...``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import optuna

import nas
from _run import Interruptible, dashboard_command
from nas._progress import Progress
from nas.cli._common import HelpFormatter, set_threads
from nas.estimation import evaluate_final
from nas.estimation._budget import refuse_test_split
from nas.search import (
    ArchitectureObjective,
    RegularizedEvolutionSampler,
    StopAfterFailures,
    best_genotypes,
    check_study,
    create_search_study,
    fail_stale_trials,
    make_sampler,
    open_storage,
    search_setup,
    settle_running_trials,
    trial_line,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Preset:
    search: nas.Budget
    final: nas.Budget
    trials: int
    population: tuple[int, int]  # evolution's population and tournament sizes


PRESETS = {
    # Search: 2 epochs of a 5-cell, 8-channel network on 10 % of the images at 16 px (36 s a trial measured, one thread, under load);
    # final: 4 epochs of a 6-cell, 12-channel network on 10 % of the images at 32 px, no auxiliary head.
    "demo": Preset(
        search=nas.preset("bpe1").replace(
            epochs=2, layers=5, channels=8, batch_size=64, lr=0.05, train_fraction=0.1, auxiliary_weight=0.0, drop_path=0.0
        ),
        final=nas.preset("full").replace(
            epochs=4, layers=6, channels=12, batch_size=64, train_fraction=0.1, cutout=8, auxiliary_weight=0.0, drop_path=0.0
        ),
        trials=24,
        population=(8, 3),
    ),
    # The paper's protocol: search under BPE-2, final training at full size.
    "paper": Preset(search=nas.preset("bpe2"), final=nas.preset("full"), trials=300, population=(50, 10)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--strategy", default="evolution", help=f"one of {', '.join(nas.search.STRATEGIES)}")
    parser.add_argument("--preset", choices=PRESETS, default="demo", help="demo: a CPU demo; paper: BPE-2 search, full final training")
    parser.add_argument("--trials", type=int, help="finished trials (complete or pruned) to reach (default: the preset's, demo 24)")
    parser.add_argument("--top", type=int, default=1, help="how many of the best to train again and test")
    parser.add_argument("--search-set", nargs="*", default=[], metavar="KEY=VALUE", help="override search budget fields")
    parser.add_argument("--final-set", nargs="*", default=[], metavar="KEY=VALUE", help="override final budget fields")
    parser.add_argument("--pruner", choices=("none", "median"), default="median", help="stop poor trainings after an epoch")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"), help="CIFAR-10 zip or folder")
    parser.add_argument("--storage", help="Optuna storage URL (default: a SQLite file under runs/)")
    parser.add_argument("--study-name", help="default: search-cifar10-<strategy>-<preset>")
    parser.add_argument("--checkpoint-dir", default=str(ROOT / "runs" / "checkpoints"), help="the final training's checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the strategy")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="torch threads for training (default: torch's, all cores; "
                        "give 1 when anything else trains on this machine)")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    storage_url = args.storage or f"sqlite:///{ROOT / 'runs' / f'search_{args.preset}.db'}"
    name = args.study_name or f"search-cifar10-{args.strategy}-{args.preset}"
    trials = preset.trials if args.trials is None else args.trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if trials < 1:
            raise nas.NasError(f"--trials must be >= 1, got {trials}")
        make_sampler(args.strategy)
        set_threads(args.threads)
        search_budget = preset.search.with_settings(args.search_set)
        final_budget = preset.final.with_settings(args.final_set)
        refuse_test_split(search_budget, "an architecture search")  # only the final training reports test accuracy
        dataset = nas.load_dataset(args.data)
        storage = open_storage(storage_url)  # its error names the real cause
        setup = search_setup(args.strategy, search_budget, dataset)
        existing = check_study(storage, name, setup)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5) if args.pruner == "median" else optuna.pruners.NopPruner()
        if args.strategy == "evolution":  # seeded by (seed, trial number): resumed, it goes on as one run
            sampler = RegularizedEvolutionSampler(*preset.population, seed=args.seed)
        else:
            sampler = make_sampler(args.strategy, args.seed + existing)
        study = create_search_study(storage, name, setup, sampler, pruner)
        store = nas.ResultStore(storage_url)
    except nas.NasError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    print(f"study {name!r} in {nas.display_url(storage_url)}: {done} of {trials} trials finished (complete or pruned)", flush=True)
    say = functools.partial(print, flush=True)
    if done >= trials:
        settle_running_trials(study, say)
    else:
        fail_stale_trials(study, say)
    failures = StopAfterFailures(trials)
    interruptible = Interruptible(ArchitectureObjective(search_budget, dataset, store, device=args.device, progress=False))
    try:
        with Progress(trials, "trials", done=min(done, trials), plain=True, stream=sys.stdout) as progress:

            def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                progress.step(trial_line(trial, study), count=int(trial.state in finished))
                fail_stale_trials(study, say)

            if done < trials:
                study.optimize(interruptible, callbacks=[optuna.study.MaxTrialsCallback(trials, states=finished), failures, show])
        if interruptible.interrupted:
            raise KeyboardInterrupt
        if failures.failures >= trials:
            print(f"error: {failures.failures} trials failed before {trials} finished; see their 'reason' attribute", file=sys.stderr)
            return 1
        for trial, genotype in best_genotypes(study, args.top):
            print(f"final training of trial {trial.number} (validation accuracy {trial.value:.4f}): {genotype}", flush=True)
            result = evaluate_final(
                genotype, final_budget, dataset, store, checkpoint_dir=args.checkpoint_dir, device=args.device,
                progress=True,  # a bar on a terminal, a line per epoch in a log
            )
            print(f"test accuracy {result.accuracy:.4f}, {result.params / 1e6:.3f} M params, "
                  f"{result.flops / 1e6:.1f} M FLOPs, {result.seconds:.0f} s")
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials, trainings and epochs are stored; run the same command to continue", file=sys.stderr)
        return 130
    print(f"dashboard: {dashboard_command(nas.display_url(storage_url))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
