"""Search the best budget (BPE) for ranking DARTS architectures on CIFAR-10 with MIP.

Each trial of the Optuna study suggests a budget from the space Omega, trains every architecture of
the reference set G under it (cached in the study's database: a budget seen before costs nothing),
and scores it by Eq. 1: Spearman r_s against the architectures' full-training accuracies, minus a
cost penalty. MIPSampler fixes one hyper-parameter every ``samples_per_round`` trials; the study
stops once all are fixed and a report is written.

    python examples/mip_cifar10.py --preset demo           # 5 to 10 minutes on a 2-core CPU
    python examples/mip_cifar10.py --preset full           # the paper's setting: days on a GPU

It prints one line per complete trial: trial k of the n MIP needs, elapsed time and time left.
Ctrl-C stops it; the same command continues the study. A second worker joins with the same command
and ``--storage postgresql://...`` (see README). Inspect it with the dashboard command it prints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import optuna
import sqlalchemy.engine
import sqlalchemy.exc

import nas
import optuna_mip
from nas._progress import Progress
from nas.budget_search import noise_verdict
from nas.cli._common import HelpFormatter, device_from_args

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
    # 10 architectures spread over the accuracy range, 4 hyper-parameters, 3 trials a round.
    "demo": Preset(space="demo", architectures=10, samples_per_round=3, storage=f"sqlite:///{ROOT / 'runs' / 'mip_demo.db'}"),
    # The paper: 100 architectures, its 8 hyper-parameters, K = 10 trials a round.
    "full": Preset(space="paper", architectures=100, samples_per_round=10, storage=f"sqlite:///{ROOT / 'runs' / 'mip_full.db'}"),
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
        raise nas.NasError(f"not a storage URL: {url!r}") from None


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


def dashboard_command(storage_url: str) -> str:
    """A command that works as printed: the dashboard script of this Python's environment, active or not."""
    script = Path(sys.executable).with_name("optuna-dashboard")
    if script.is_file():
        return f"{shlex.quote(str(script))} {shlex.quote(storage_url)}"
    return f"optuna-dashboard {shlex.quote(storage_url)}  (pip install optuna-dashboard)"


class TrialProgress:
    """Callback: one line per trial, "complete trials k/n | elapsed | left ~ETA", n being what MIP needs."""

    def __init__(self, needed: int, done: int, n_params: int) -> None:
        self.n_params = n_params
        self.progress = Progress(needed, "complete trials", done=done)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        fixed = f"MIP has fixed {len(optuna_mip.MIPSampler.fixed_params(study))} of {self.n_params} hyper-parameters"
        if trial.state == optuna.trial.TrialState.COMPLETE:
            self.progress.step(f"trial {trial.number}: r_s {trial.user_attrs['r_s']:.3f}, objective {trial.value:.3f}; {fixed}")
        elif trial.state == optuna.trial.TrialState.FAIL:  # does not count towards MIP's rounds
            self.progress.step(f"trial {trial.number} failed: {trial.user_attrs.get('reason', 'see the log')}", count=0)

    def close(self) -> None:
        self.progress.close()


class Interruptible:
    """The objective, with Ctrl-C ending the running trial as PRUNED and stopping the study.

    Optuna logs a trial that raises KeyboardInterrupt as failed, with a 60-line traceback; a
    pruned trial is one log line. Trainings finished before Ctrl-C are in the result store.
    """

    def __init__(self, objective: Callable[[optuna.Trial], float]) -> None:
        self.objective, self.interrupted = objective, False

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self.objective(trial)
        except KeyboardInterrupt:
            self.interrupted = True
            trial.study.stop()
            raise optuna.TrialPruned("interrupted by Ctrl-C") from None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="demo", help="demo: a CPU demo; full: the paper's setting")
    parser.add_argument("--storage", help="Optuna storage URL (default: the preset's SQLite file under runs/)")
    parser.add_argument("--study-name", help="default: mip-cifar10-<preset>")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"), help="CIFAR-10 zip or folder")
    parser.add_argument("--reference", default=str(SHARED / "reference" / "zheng2020" / "ground_truth.csv"),
                        help="CSV arch,genotype,accuracy with full-training accuracies (R_f)")
    parser.add_argument("--space", help="budget space YAML (default: the preset's)")
    parser.add_argument("--architectures", type=int, help="how many architectures of the reference to rank, at least 3 "
                        "(default: the preset's, demo 10, full 100)")
    parser.add_argument("--penalty", type=float, default=0.1, help="lambda of Eq. 1, in [0, 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the MIP sampler")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available, else cpu)")
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
    try:  # everything is checked before the storage is touched: a bad option leaves no empty study behind
        if count < 3:
            raise nas.NasError(f"--architectures must be at least 3 (r_s ranks them), got {count}")
        if not 0 <= args.penalty < 1:
            raise nas.NasError(f"--penalty must be in [0, 1), got {args.penalty}")
        device = device_from_args(args.device)
        owner = {"storage": storage_identity(storage_url), "study": study_name}
        check_report_folder(out, owner)
        space = nas.BudgetSpace.from_yaml(args.space or preset.space)
        reference = nas.read_architectures(args.reference, with_accuracy=True)
        if count > len(reference):
            raise nas.NasError(f"--architectures {count}, but {args.reference} has {len(reference)}")
        architectures = spread(reference, count)
        sampler = optuna_mip.MIPSampler(cost=space.value_costs(), samples_per_round=preset.samples_per_round, seed=args.seed)
        dataset = nas.load_dataset(args.data)
        if storage_url.startswith("sqlite:///"):
            Path(storage_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        store = nas.ResultStore(storage_url)
        objective = nas.TrainingObjective(
            space, architectures, dataset, store, penalty=args.penalty, device=device, progress=not args.quiet
        )
        # Heartbeats let a restarted or parallel worker fail the trials of a worker that was killed.
        storage = optuna.storages.RDBStorage(storage_url, heartbeat_interval=60, grace_period=180)
        study = optuna.create_study(
            storage=storage, study_name=study_name, direction="maximize", sampler=sampler, load_if_exists=True
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
    needed = optuna_mip.required_trials(len(space.values), preset.samples_per_round)
    done = len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))
    print(f"study {study_name!r} in {nas.display_url(storage_url)}: {done} of the {needed} complete trials MIP needs are done; "
          f"{len(architectures)} architectures per trial; fixed so far: {optuna_mip.MIPSampler.fixed_params(study)}")

    def stop_when_failing(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # Failed trials are no evidence for MIP; so many that MIP could have finished means the setup is wrong.
        if len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.FAIL])) >= needed:
            study.stop()

    def all_fixed() -> bool:
        return len(optuna_mip.MIPSampler.fixed_params(study)) == len(space.values)

    interruptible, progress = Interruptible(objective), TrialProgress(needed, done, len(space.values))
    try:
        if not all_fixed():  # until every hyper-parameter is fixed: failed trials do not count
            study.optimize(interruptible, callbacks=[optuna_mip.StopWhenAllFixed(), optuna_mip.PublishDecisions(), stop_when_failing, progress])
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
    (out / REPORT_OWNER).parent.mkdir(parents=True, exist_ok=True)
    (out / REPORT_OWNER).write_text(json.dumps(owner))
    report = nas.write_report(study, space, out)
    best = study.best_trial
    print(f"best budget (trial {best.number}): {space.budget_of(best.params)}")
    print(f"r_s {best.user_attrs['r_s']:.3f} (95% CI {best.user_attrs['r_s_ci'][0]:.3f} to {best.user_attrs['r_s_ci'][1]:.3f}), "
          f"objective {best.value:.3f}")
    print(noise_verdict(study, space))
    print(f"report: {report}\ndashboard: {dashboard_command(nas.display_url(storage_url))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
