"""How well a one-shot supernet ranks architectures, globally and locally (the paper's Table 4).

At each chosen epoch of a supernet trained by sampled paths:

* **global r_s**: the supernet accuracies (inherited weights) of the reference architectures against
  their full-training accuracies;
* **local r_s**: a few of the architectures sampled during that epoch, their supernet accuracies
  against their accuracies when trained on their own under a (small) budget (BPE-2 in the paper),
  trained through the result store.

Everything resumes: the supernet is checkpointed after each epoch (before it is evaluated), every
measured accuracy is written to ``evaluations.json`` at once, and budget trainings live in the store.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from nas._errors import NasError
from nas._progress import Progress
from nas.estimation._budget import Budget, refuse_test_split
from nas.store import Checkpoint
from nas.estimation._correlation import Correlation, correlate
from nas.data import Dataset
from nas.estimation._estimate import dataset_key, get_or_train
from nas.store import ResultStore
from nas.estimation._tables import Architecture
from nas.oneshot._paths import PathTraining
from nas.space._genotype import parse_genotype

LOCAL_ARCHS = 5
_EVALUATIONS = "evaluations.json"
_SETUP = "setup.json"


@dataclass(frozen=True)
class EpochCorrelations:
    epoch: int
    global_: Correlation | None
    local: Correlation | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "global": self.global_.to_dict() if self.global_ else None,
            "local": self.local.to_dict() if self.local else None,
        }


def _write_json(path: Path, payload: Any) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=1, sort_keys=True))
    os.replace(partial, path)


def _correlation(pairs: Sequence[tuple[float, float]]) -> Correlation | None:
    """r_s of (reference, supernet) pairs; None when too few or nothing to rank."""
    if len(pairs) < 3:
        return None
    result = correlate(*zip(*pairs))
    return None if math.isnan(result.spearman) else result


class OneShotAnalysis:
    """One analysis run, kept in ``out_dir``; :meth:`run` trains, measures and returns the correlations."""

    def __init__(
        self,
        training: PathTraining,
        dataset: Dataset,
        reference: Sequence[Architecture],
        *,
        local_budget: Budget,
        store: ResultStore,
        epochs_to_evaluate: Sequence[int],
        out_dir: str | os.PathLike,
        local_archs: int = LOCAL_ARCHS,
        progress: bool = True,
    ) -> None:
        refuse_test_split(local_budget, "the one-shot analysis's sampled architectures")
        epochs = training.budget.epochs
        bad = [e for e in epochs_to_evaluate if not 1 <= e <= epochs]
        if not epochs_to_evaluate or bad:
            raise NasError(f"epochs to evaluate must be in 1..{epochs} (the budget's epochs), got {list(epochs_to_evaluate)}")
        if local_archs < 3:
            raise NasError(f"local r_s needs at least 3 sampled architectures per epoch, got {local_archs}")
        if any(arch.accuracy is None for arch in reference):
            raise NasError("every reference architecture needs its full-training accuracy")
        self.training, self.dataset, self.reference = training, dataset, list(reference)
        self.local_budget, self.store, self.local_count = local_budget, store, local_archs
        self.epochs_to_evaluate = sorted(set(epochs_to_evaluate))
        self.out = Path(out_dir)
        self.progress = progress
        self.checkpoint = Checkpoint(self.out / "checkpoint")
        self.local_choices: dict[int, list[str]] = {}
        self.evaluations: dict[str, dict[str, dict[str, float]]] = {}

    def _check_setup(self) -> None:
        """Refuse to mix two setups in one folder: their checkpoints and accuracies do not combine."""
        setup = {
            "budget": self.training.budget.to_dict(),
            "sampling": self.training.sampling,
            "level": self.training.level,
            "dataset": dataset_key(self.dataset),
            "local_archs": self.local_count,
            "valid_images": self.training.valid_images,
            "recalibration_images": self.training.recalibration_images,
        }
        path = self.out / _SETUP
        if path.is_file():
            stored = json.loads(path.read_text())
            if stored != setup:
                changed = sorted(key for key in setup if stored.get(key) != setup[key])
                raise NasError(f"{self.out} holds an analysis with another {', '.join(changed)}; use another --out")
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            _write_json(path, setup)

    def run(self) -> list[EpochCorrelations]:
        self._check_setup()
        saved = self.checkpoint.load(map_location=self.training.device)
        if saved is not None:
            self.training.load_state_dict(saved[1]["training"])
            self.local_choices = {int(k): v for k, v in saved[1]["local_choices"].items()}
        evaluations = self.out / _EVALUATIONS
        self.evaluations = json.loads(evaluations.read_text()) if evaluations.is_file() else {}
        last = self.epochs_to_evaluate[-1]
        with Progress(last, "supernet epoch", done=self.training.epoch, quiet=not self.progress) as bar:
            while True:
                if self.training.epoch in self.epochs_to_evaluate:
                    self._evaluate(self.training.epoch)
                if self.training.epoch == last:
                    break
                sampled = self.training.run_epoch()
                epoch = self.training.epoch
                # The local architectures are a seeded draw among the distinct ones this epoch trained.
                distinct = sorted({str(genotype) for genotype in sampled})
                chooser = random.Random(f"{self.training.budget.seed}-{epoch}")
                self.local_choices[epoch] = chooser.sample(distinct, min(self.local_count, len(distinct)))
                state = {"training": self.training.state_dict(), "local_choices": self.local_choices}
                self.checkpoint.save(epoch, state)
                bar.step(f"{len(sampled)} paths trained")
        return [self.correlations(epoch) for epoch in self.epochs_to_evaluate]

    def _evaluate(self, epoch: int) -> None:
        """Supernet accuracies of the reference and the epoch's local architectures, each stored at once."""
        done = self.evaluations.setdefault(str(epoch), {"global": {}, "local": {}})
        todo = [("global", arch.name, arch.genotype) for arch in self.reference if arch.name not in done["global"]]
        todo += [("local", text, parse_genotype(text)) for text in self.local_choices[epoch] if text not in done["local"]]
        total = len(self.reference) + len(self.local_choices[epoch])
        with Progress(total, f"epoch {epoch} architectures", done=total - len(todo), quiet=not self.progress) as bar:
            for kind, key, genotype in todo:
                done[kind][key] = self.training.accuracy(genotype)
                _write_json(self.out / _EVALUATIONS, self.evaluations)
                bar.step(f"{kind} supernet accuracy {done[kind][key]:.3f}")

    def local_accuracies(self, epoch: int) -> dict[str, float | None]:
        """Accuracies of the epoch's local architectures under the local budget (trained once, stored)."""
        results = {}
        for text in self.local_choices[epoch]:
            result = get_or_train(parse_genotype(text), self.local_budget, self.dataset, self.store, device=self.training.device, progress=False)
            results[text] = result.accuracy
        return results

    def correlations(self, epoch: int) -> EpochCorrelations:
        measured = self.evaluations[str(epoch)]
        global_pairs = [(arch.accuracy, measured["global"][arch.name]) for arch in self.reference]
        trained = self.local_accuracies(epoch)
        local_pairs = [(trained[text], measured["local"][text]) for text in self.local_choices[epoch] if trained[text] is not None]
        return EpochCorrelations(epoch, _correlation(global_pairs), _correlation(local_pairs))


def format_table(rows: Sequence[EpochCorrelations], title: str) -> str:
    """The paper's Table 4 layout: one line per epoch, global and local r_s with their 95% intervals."""

    def cell(correlation: Correlation | None) -> str:
        if correlation is None:
            return "n/a"
        low, high = correlation.spearman_ci
        return f"{correlation.spearman:+.2f} [{low:+.2f}, {high:+.2f}] (n={correlation.n})"

    lines = [title, f"{'epoch':>5}  {'global r_s [95% CI]':<30}  local r_s [95% CI]"]
    lines += [f"{row.epoch:>5}  {cell(row.global_):<30}  {cell(row.local)}" for row in rows]
    return "\n".join(lines)


def write_figure(rows: Sequence[EpochCorrelations], path: str | os.PathLike, title: str) -> None:
    """r_s per epoch, global and local, with their 95% bootstrap intervals as error bars (plotly HTML)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, attribute in (("global r_s", "global_"), ("local r_s", "local")):
        points = [(row.epoch, getattr(row, attribute)) for row in rows if getattr(row, attribute) is not None]
        figure.add_trace(
            go.Scatter(
                x=[epoch for epoch, _ in points],
                y=[c.spearman for _, c in points],
                mode="lines+markers",
                name=name,
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[c.spearman_ci[1] - c.spearman for _, c in points],
                    arrayminus=[c.spearman - c.spearman_ci[0] for _, c in points],
                ),
            )
        )
    figure.update_layout(title=title, xaxis_title="supernet epoch", yaxis_title="Spearman r_s", yaxis_range=[-1.05, 1.05])
    figure.write_html(path, include_plotlyjs="directory")
