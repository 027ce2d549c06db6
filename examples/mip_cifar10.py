"""Search the best budget (BPE) for ranking DARTS architectures on CIFAR-10 with MIP.

Each trial of the Optuna study suggests a budget from the space Omega, trains every architecture of
the reference set G under it (cached in the study's database: a budget seen before costs nothing),
and scores it by Eq. 1: Spearman r_s against the architectures' full-training accuracies, minus a
cost penalty. MIPSampler fixes one hyper-parameter every ``samples_per_round`` trials; the study
stops once all are fixed and a report is written.

    python examples/mip_cifar10.py --preset demo           # 5 to 10 minutes on a 2-core CPU
    python examples/mip_cifar10.py --preset full           # the paper's setting: days on a GPU

Ctrl-C stops it; the same command continues the study. A second worker joins with the same command
and ``--storage postgresql://...`` (see README). Inspect it with ``optuna-dashboard <storage URL>``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import optuna

import nas
import optuna_mip

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Preset:
    space: str
    architectures: int
    samples_per_round: int
    storage: str


PRESETS = {
    # 10 architectures spread over the accuracy range, 4 hyper-parameters, 3 trials a round.
    "demo": Preset(space="demo", architectures=10, samples_per_round=3, storage=f"sqlite:///{ROOT / 'runs' / 'mip_demo.db'}"),
    # The paper: 100 architectures, its 8 hyper-parameters, K = 10 trials a round.
    "full": Preset(space="paper", architectures=100, samples_per_round=10, storage=f"sqlite:///{ROOT / 'runs' / 'mip_full.db'}"),
}


def spread(architectures: list[nas.Architecture], count: int) -> list[nas.Architecture]:
    """``count`` architectures evenly spaced in full-training accuracy: a wide spread ranks less noisily."""
    if count >= len(architectures):
        return architectures
    ranked = sorted(architectures, key=lambda arch: arch.accuracy)
    return [ranked[round(i * (len(ranked) - 1) / (count - 1))] for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, default="demo")
    parser.add_argument("--storage", help="Optuna storage URL (default: a SQLite file under runs/)")
    parser.add_argument("--study-name", help="default: mip-cifar10-<preset>")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"), help="CIFAR-10 zip or folder")
    parser.add_argument("--reference", default=str(SHARED / "reference" / "zheng2020" / "ground_truth.csv"),
                        help="CSV arch,genotype,accuracy with full-training accuracies (R_f)")
    parser.add_argument("--space", help="budget space YAML (default: the preset's)")
    parser.add_argument("--architectures", type=int, help="how many architectures of the reference to use")
    parser.add_argument("--penalty", type=float, default=0.1, help="lambda of Eq. 1, in [0, 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--out", help="report folder (default: runs/<study name>)")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    storage_url = args.storage or preset.storage
    study_name = args.study_name or f"mip-cifar10-{args.preset}"
    out = Path(args.out or ROOT / "runs" / study_name)
    try:
        space = nas.BudgetSpace.from_yaml(args.space or preset.space)
        architectures = spread(nas.read_architectures(args.reference, with_accuracy=True), args.architectures or preset.architectures)
        dataset = nas.load_dataset(args.data)
        if storage_url.startswith("sqlite:///"):
            Path(storage_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        store = nas.ResultStore(storage_url)
        # Heartbeats let a restarted or parallel worker fail the trials of a worker that was killed.
        storage = optuna.storages.RDBStorage(storage_url, heartbeat_interval=60, grace_period=180)
        sampler = optuna_mip.MIPSampler(cost=space.value_costs(), samples_per_round=preset.samples_per_round, seed=args.seed)
        study = optuna.create_study(
            storage=storage, study_name=study_name, direction="maximize", sampler=sampler, load_if_exists=True
        )
        objective = nas.TrainingObjective(space, architectures, dataset, store, penalty=args.penalty, device=args.device)
    except (nas.NasError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    setup = {"space": space.describe(), "architectures": [arch.name for arch in architectures], "penalty": args.penalty}
    for key, value in setup.items():
        if study.user_attrs.get(key, value) != value:  # a resumed study must keep its objective
            print(f"error: study {study_name!r} was run with a different {key!r}; pass a new --study-name", file=sys.stderr)
            return 2
        study.set_user_attr(key, value)
    needed = optuna_mip.required_trials(len(space.values), preset.samples_per_round)
    done = len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))
    print(f"study {study_name!r} in {storage_url}: {done} of {needed} trials done; "
          f"{len(architectures)} architectures per trial; fixed so far: {optuna_mip.MIPSampler.fixed_params(study)}")

    def stop_when_failing(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # Failed trials are no evidence for MIP; so many that MIP could have finished means the setup is wrong.
        if len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.FAIL])) >= needed:
            study.stop()

    def all_fixed() -> bool:
        return len(optuna_mip.MIPSampler.fixed_params(study)) == len(space.values)

    try:
        if not all_fixed():  # until every hyper-parameter is fixed: failed trials do not count
            study.optimize(objective, callbacks=[optuna_mip.StopWhenAllFixed(), optuna_mip.PublishDecisions(), stop_when_failing])
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials and trainings are stored; run the same command to continue", file=sys.stderr)
        return 130
    if not all_fixed():
        print(f"error: {needed} trials failed before MIP finished; see their 'reason' attribute", file=sys.stderr)
        return 1
    report = nas.write_report(study, space, out)
    best = study.best_trial
    print(f"best budget (trial {best.number}): {space.budget_of(best.params)}")
    print(f"r_s {best.user_attrs['r_s']:.3f} (95% CI {best.user_attrs['r_s_ci'][0]:.3f} to {best.user_attrs['r_s_ci'][1]:.3f}), "
          f"objective {best.value:.3f}")
    print(f"report: {report}\ndashboard: optuna-dashboard {storage_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
