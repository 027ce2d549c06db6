"""Search DARTS architectures on CIFAR-10 under a small budget, then train the best one again and test it.

Each trial of the Optuna study suggests an architecture (the strategy is the study's sampler), trains
it under the search budget (validation accuracy on the 5,000-image split; a result already in the
database costs nothing) and may be pruned after any epoch. Once ``--trials`` trials are complete,
the best ``--top`` architectures are trained under the final budget on all training images and
measured on the test split, with a checkpoint every epoch.

    python examples/search_cifar10.py --strategy evolution --preset demo   # about 15 minutes on a 2-core CPU
    python examples/search_cifar10.py --strategy evolution --preset paper  # days on a GPU

Ctrl-C or a kill stops it; the same command continues (finished trials, trainings and epochs are
kept). More workers join with the same command and ``--storage postgresql://...``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import optuna

import nas
from nas.estimation import evaluate_final
from nas.search import ArchitectureObjective, best_genotypes, check_study, create_search_study, make_sampler, open_storage, search_setup

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Preset:
    search: nas.Budget
    final: nas.Budget
    trials: int


PRESETS = {
    # Search: 2 epochs of a 5-cell, 8-channel network on 10 % of the images at 16 px (~10 s a trial);
    # final: 4 epochs of a 6-cell, 12-channel network on 10 % of the images at 32 px, no auxiliary head.
    "demo": Preset(
        search=nas.preset("bpe1").replace(
            epochs=2, layers=5, channels=8, batch_size=64, lr=0.05, train_fraction=0.1, auxiliary_weight=0.0, drop_path=0.0
        ),
        final=nas.preset("full").replace(
            epochs=4, layers=6, channels=12, batch_size=64, train_fraction=0.1, cutout=8, auxiliary_weight=0.0, drop_path=0.0
        ),
        trials=20,
    ),
    # The paper's protocol: search under BPE-2, final training at full size.
    "paper": Preset(search=nas.preset("bpe2"), final=nas.preset("full"), trials=300),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", default="evolution", help=f"one of {', '.join(nas.search.STRATEGIES)}")
    parser.add_argument("--preset", choices=PRESETS, default="demo")
    parser.add_argument("--trials", type=int, help="complete trials to reach (default: the preset's)")
    parser.add_argument("--top", type=int, default=1, help="how many of the best to train again and test")
    parser.add_argument("--search-set", nargs="*", default=[], metavar="KEY=VALUE", help="override search budget fields")
    parser.add_argument("--final-set", nargs="*", default=[], metavar="KEY=VALUE", help="override final budget fields")
    parser.add_argument("--pruner", choices=("none", "median"), default="median")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"), help="CIFAR-10 zip or folder")
    parser.add_argument("--storage", help="Optuna storage URL (default: a SQLite file under runs/)")
    parser.add_argument("--study-name", help="default: search-cifar10-<strategy>-<preset>")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    storage_url = args.storage or f"sqlite:///{ROOT / 'runs' / f'search_{args.preset}.db'}"
    name = args.study_name or f"search-cifar10-{args.strategy}-{args.preset}"
    trials = args.trials or preset.trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        make_sampler(args.strategy)
        search_budget = preset.search.with_settings(args.search_set)
        final_budget = preset.final.with_settings(args.final_set)
        dataset = nas.load_dataset(args.data)
        if storage_url.startswith("sqlite:///"):
            Path(storage_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        storage = open_storage(storage_url)
        setup = search_setup(args.strategy, search_budget, dataset)
        existing = check_study(storage, name, setup)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5) if args.pruner == "median" else optuna.pruners.NopPruner()
        study = create_search_study(storage, name, setup, make_sampler(args.strategy, args.seed + existing), pruner)
        store = nas.ResultStore(storage_url)
    except nas.NasError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        best = max((t.value for t in complete), default=float("nan"))
        print(f"trial {trial.number}: {value} ({len(complete)}/{trials} complete, best {best:.4f})", flush=True)

    complete = (optuna.trial.TrialState.COMPLETE,)
    print(f"study {name!r} in {nas.display_url(storage_url)}: {len(study.get_trials(states=complete))} of {trials} trials complete")
    try:
        if len(study.get_trials(states=complete)) < trials:
            objective = ArchitectureObjective(search_budget, dataset, store, device=args.device)
            study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(trials, states=complete), show])
        for trial, genotype in best_genotypes(study, args.top):
            print(f"final training of trial {trial.number} (validation accuracy {trial.value:.4f}): {genotype}")
            result = evaluate_final(
                genotype, final_budget, dataset, store, checkpoint_dir=ROOT / "runs" / "checkpoints", device=args.device
            )
            print(f"test accuracy {result.accuracy:.4f}, {result.params / 1e6:.3f} M params, "
                  f"{result.flops / 1e6:.1f} M FLOPs, {result.seconds:.0f} s")
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials, trainings and epochs are stored; run the same command to continue", file=sys.stderr)
        return 130
    print(f"dashboard: optuna-dashboard {nas.display_url(storage_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
