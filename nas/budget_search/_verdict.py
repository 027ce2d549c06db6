"""Whether the best budget stands out from the noise of ranking a few architectures, in words
(:func:`noise_verdict`), with the number of architectures that would make it stand out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.budget_search._analysis import budget_table, null_importances, parameter_importances, valued_trials
from nas.budget_search._bpe_space import BudgetSpace
from nas.estimation._correlation import SpearmanDifference, spearman_difference

# --------------------------------------------------------------------------------------- noise


def _architecture_count(trial: FrozenTrial) -> int | None:
    """Architectures the trial's r_s was measured on (its ``R_b``), when the objective recorded them."""
    ranked = trial.user_attrs.get("R_b")
    return len(ranked) if isinstance(ranked, dict) else None


def _separation_verdict(
    rows: Sequence[dict[str, Any]], n_architectures: int | None, reference_size: int | None = None
) -> tuple[bool, str]:
    """Whether the best budget's r_s stands clear of the other budgets', and the sentence that says so.

    Rule: the best budget (``rows[0]``) is distinguishable when the highest r_s of the other
    budgets (0, no correlation, when there is none) lies below the lower end of the best's 95 %
    interval. Otherwise, the interval's lower half-width h = r_s - low shrinks about as 1/sqrt(n) with
    n architectures, so it falls below the gap d to that r_s at n ~ n_now * (h / d)^2, which is
    compared with ``reference_size``, the architectures with a full-training accuracy there are.
    """
    best = rows[0]
    r_s, ci = best["r_s"], best["r_s_ci"]
    if r_s is None or ci is None:
        return False, "The best trial recorded no r_s interval, so its noise cannot be judged."
    others = [row["r_s"] for row in rows[1:] if row["r_s"] is not None]
    rival, what = (max(others), "the next best budget's r_s") if others else (0.0, "zero (no correlation)")
    on = f" on {n_architectures} architectures" if n_architectures else ""
    measured = f"r_s {r_s:.3f} has the 95% interval [{ci[0]:.2f}, {ci[1]:.2f}]{on}"
    if rival < ci[0]:
        return True, f"Distinguishable from noise: the best budget's {measured}, above {what} ({rival:.3f})."
    inside = sum(ci[0] <= other for other in others)
    holds = f"which holds the r_s of {inside} other budget(s) (up to {rival:.3f})" if others else f"which holds {what}"
    gap, half_width = r_s - rival, r_s - ci[0]
    if gap <= 0:
        needed = "no number of architectures would separate them: another budget's r_s is as high."
    elif n_architectures:
        count = math.ceil(n_architectures * (half_width / gap) ** 2)
        needed = (
            f"separating it from {what} ({gap:.3f} lower) would take about {count} architectures "
            f"({n_architectures} x ({half_width:.2f} / {gap:.3f})^2: the interval narrows as 1/sqrt(n))"
        )
        needed += _against_reference(count, reference_size)
    else:
        needed = f"its interval would have to shrink {half_width / gap:.1f}-fold (it narrows as 1/sqrt(n))."
    return False, f"Not distinguishable from noise: the best budget's {measured}, {holds}; {needed}"


def _paired_differences(best: FrozenTrial, others: Sequence[FrozenTrial]) -> list[tuple[float, SpearmanDifference]]:
    """(other r_s, Δr_s of the best over it) for each other budget measured on >= 3 of the best's
    architectures (``R_f``/``R_b`` user attributes); empty when the best trial did not record them."""
    full, ranked = best.user_attrs.get("R_f"), best.user_attrs.get("R_b")
    if not isinstance(full, dict) or not isinstance(ranked, dict):
        return []
    differences = []
    for other in others:
        other_ranked = other.user_attrs.get("R_b")
        common = [name for name in full if name in ranked and isinstance(other_ranked, dict) and name in other_ranked]
        if len(common) >= 3:
            difference = spearman_difference(
                [full[name] for name in common], [ranked[name] for name in common], [other_ranked[name] for name in common]
            )
            differences.append((other.user_attrs.get("r_s", math.nan), difference))
    return differences


def _against_reference(count: int, reference_size: int | None) -> str:
    """How ``count`` architectures compare with the reference set's size, to end the sentence."""
    if not reference_size:
        return "."
    beyond = count > reference_size
    return f"; the reference set has {reference_size}" + (", so no run on it can separate them." if beyond else ".")


def _paired_verdict(
    r_s: float, differences: Sequence[tuple[float, SpearmanDifference]], reference_size: int | None = None
) -> str:
    """The best budget is distinguishable when its paired Δr_s over every other budget has a 95 %
    interval above 0. Otherwise, for the closest rival (lowest interval), the interval's lower
    half-width h = Δ - low shrinks as 1/sqrt(n), so it falls below Δ at n ~ n_now * (h / Δ)^2."""
    rival_r_s, closest = min(differences, key=lambda item: item[1].ci[0])
    low, high = closest.ci
    measured = (
        f"r_s {r_s:.3f}, by a paired bootstrap over the same {closest.n} architectures against the closest "
        f"of {len(differences)} other budget(s) (r_s {rival_r_s:.3f}): Δr_s {closest.delta:.3f}, 95% interval [{low:.2f}, {high:.2f}]"
    )
    if closest.distinguishable:
        return f"Distinguishable from noise: the best budget's {measured}, above 0."
    held = sum(not difference.distinguishable for _, difference in differences)
    if closest.delta <= 0:
        needed = "no number of architectures would separate them: the other budget ranks as well or better."
    else:
        count = math.ceil(closest.n * ((closest.delta - low) / closest.delta) ** 2)
        needed = f"separating them would take about {count} architectures (the interval narrows as 1/sqrt(n))"
        needed += _against_reference(count, reference_size)
    return f"Not distinguishable from noise: the best budget's {measured}, which holds 0 ({held} budget(s) so); {needed}"


def _importance_verdict(importance: dict[str, float], null: dict[str, tuple[float, float]]) -> str | None:
    """A sentence when no hyper-parameter's importance clears its null's 95th percentile."""
    if not importance or not null or any(importance[name] > null[name][1] for name in importance):
        return None
    return (
        "No hyper-parameter's importance is above its null (shuffled r_s): which parameters MIP fixed, "
        "and at which values, is not distinguishable from noise either."
    )


def budget_verdict(
    complete: Sequence[FrozenTrial],
    rows: Sequence[dict[str, Any]],
    importance: dict[str, float],
    null: dict[str, tuple[float, float]],
    reference_size: int | None = None,
) -> str:
    if not rows:
        return "No complete trial yet: nothing to judge."
    trials = {t.number: t for t in complete}
    best = trials[rows[0]["trial"]]
    differences = _paired_differences(best, [trials[row["trial"]] for row in rows[1:]])
    if differences:
        sentence = _paired_verdict(rows[0]["r_s"], differences, reference_size)
    else:
        _, sentence = _separation_verdict(rows, _architecture_count(best), reference_size)
    remark = _importance_verdict(importance, null)
    return f"{sentence} {remark}" if remark else sentence


def noise_verdict(
    study: optuna.Study, space: BudgetSpace, *, n_shuffles: int = 20, seed: int = 0, reference_size: int | None = None
) -> str:
    """In words: is the best budget distinguishable from noise, and how many architectures would make it so?

    A best budget picked from a handful of architectures often has an r_s interval that holds the
    other budgets' r_s: its rank among budgets is then a draw, not a finding. The sentence starts
    with "Distinguishable from noise" or "Not distinguishable from noise"; the rule is
    :func:`_paired_verdict`'s (a paired bootstrap of Δr_s over the same architectures) when the
    trials recorded per-architecture accuracies (``R_f``, ``R_b``), else :func:`_separation_verdict`'s;
    with ``reference_size`` (the architectures with a full-training accuracy available) that one says
    whether that many would be enough. It adds a sentence when no importance clears its null
    (:func:`null_importances`), since MIP's decisions are then noise too. This is the verdict of
    :func:`write_report`'s "Best budget" section.
    """
    return budget_verdict(
        valued_trials(study),
        budget_table(study, space, top=len(study.trials)),
        parameter_importances(study, space, seed),
        null_importances(study, space, n_shuffles, seed),
        reference_size,
    )
