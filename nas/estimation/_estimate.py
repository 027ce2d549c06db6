"""Estimate many architectures under one budget, through the result store, resumably.

Every worker, whether a separate ``nas estimate`` on another machine or one of the processes of
``estimate(..., workers=N)``, goes through the same steps per architecture: take the stored
result, or claim the training in the store and train, or, while another worker holds the claim,
come back to it after the rest. So no architecture is trained twice, and a claim left by a dead
worker is taken over once it expires.
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from nas._errors import NasError
from nas._progress import Progress
from nas.estimation._budget import Budget
from nas.data import Dataset
from nas.store import Checkpoint, ResultStore, result_key
from nas.estimation._tables import Architecture
from nas.estimation._trainer import SPLIT_SEED, VALID_SIZE, EpochHook, TrainResult, default_device, numerics, train
from nas.space._genotype import Genotype

POLL_SECONDS = 2.0
"""How often a worker looks again at architectures that other workers are training."""

# Called with each architecture's result and whether this worker trained it (False: it was stored).
OnResult = Callable[[Architecture, TrainResult, bool], None]


def dataset_key(dataset: Dataset) -> str:
    """The dataset's identity in the result store, including how its validation split is drawn."""
    return f"{dataset.name}|valid={VALID_SIZE}|split={SPLIT_SEED}"


def training_checkpoint(
    root: str | os.PathLike, genotype: Genotype, budget: Budget, dataset: Dataset, device: torch.device
) -> Checkpoint:
    """The per-epoch checkpoint of one training under ``root``: a folder per architecture, one
    below it per budget, arithmetic and data, so that no two trainings share one."""
    key = f"{result_key(budget, numerics(budget, device))}|{dataset_key(dataset)}"
    return Checkpoint(Path(root) / genotype.hash() / hashlib.sha256(key.encode()).hexdigest()[:16])


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` processes on this machine, so that together they
    use each core once: torch's own default (the cores, or ``OMP_NUM_THREADS``) shared out."""
    return max(1, torch.get_num_threads() // workers)


def estimate(
    architectures: Sequence[Architecture],
    budget: Budget,
    dataset: Dataset,
    store: ResultStore,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    workers: int = 1,
    threads: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> dict[str, TrainResult]:
    """Results of every architecture under ``budget``, training only those the store lacks.

    Each result is stored as soon as it is measured, so an interrupted call resumes where it
    stopped and several workers on one database share their results, each training different
    architectures (see the module docstring). ``retry_failed`` first forgets the stored failures
    of these architectures, so they are trained again. ``workers`` > 1 trains that many
    architectures side by side in as many processes, each with ``threads`` torch threads
    (default: :func:`threads_per_worker`). With ``checkpoint_dir``, every training saves its state
    each epoch there (:func:`training_checkpoint`), and one that was killed resumes from its last
    finished epoch instead of from scratch: on CPU it ends as an uninterrupted one.
    """
    if workers < 1:
        raise NasError(f"--workers must be >= 1, got {workers}")
    device = torch.device(device) if device is not None else default_device()
    if retry_failed:
        store.delete_failed([arch.genotype for arch in architectures], budget, dataset_key(dataset), numerics(budget, device))
    with Progress(len(architectures), "estimate", quiet=not progress) as bar:
        if workers == 1:
            results: dict[str, TrainResult] = {}

            def record(architecture: Architecture, result: TrainResult, trained: bool) -> None:
                results[architecture.name] = result
                bar.step(_describe(architecture.name, result, trained))

            # Training bars only on a terminal: in a log they are a line of fragments per update.
            _run(architectures, budget, dataset, store, device, record, bar.write, progress=progress and not bar.plain,
                 checkpoint_dir=checkpoint_dir)  # fmt: skip
            return results
        return _run_in_processes(architectures, budget, dataset, store, device, workers, threads, bar, checkpoint_dir)


def get_or_train(
    genotype: Genotype,
    budget: Budget,
    dataset: Dataset,
    store: ResultStore | None,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    on_epoch: EpochHook | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    on_trained: Callable[[TrainResult], None] | None = None,
) -> TrainResult:
    """The stored result of ``genotype`` under ``budget``, or a new training, stored at once
    (waiting, when another worker is training it, for its result), checkpointed each epoch under
    ``checkpoint_dir`` when given (see :func:`estimate`). ``on_trained`` sees the result when this
    call trained it (not when it was stored).

    A training stopped by ``on_epoch`` (a pruned trial) raises through and stores nothing."""
    device = torch.device(device) if device is not None else default_device()
    if store is None:
        checkpoint = None if checkpoint_dir is None else training_checkpoint(checkpoint_dir, genotype, budget, dataset, device)
        result = train(genotype, budget, dataset, device=device, progress=progress, on_epoch=on_epoch, checkpoint=checkpoint)
        if on_trained is not None:
            on_trained(result)
        return result
    if retry_failed:
        store.delete_failed([genotype], budget, dataset_key(dataset), numerics(budget, device))
    results: list[TrainResult] = []

    def on_result(_: Architecture, result: TrainResult, trained: bool) -> None:
        results.append(result)
        if trained and on_trained is not None:
            on_trained(result)

    _run(
        [Architecture(genotype.hash(), genotype)],
        budget,
        dataset,
        store,
        device,
        on_result,
        lambda text: print(text, file=sys.stderr) if progress else None,
        progress=progress,
        on_epoch=on_epoch,
        checkpoint_dir=checkpoint_dir,
    )
    return results[0]


def _run(
    architectures: Sequence[Architecture],
    budget: Budget,
    dataset: Dataset,
    store: ResultStore,
    device: torch.device,
    on_result: OnResult,
    say: Callable[[str], None],
    *,
    progress: bool,
    poll_seconds: float = POLL_SECONDS,
    on_epoch: EpochHook | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> None:
    """One worker's pass: every architecture's stored result, its own training under a claim, or,
    for those claimed by other workers, their results once they are stored (or their claims
    expired and are taken over). Trainings checkpoint under ``checkpoint_dir`` when given."""
    key, arithmetic = dataset_key(dataset), numerics(budget, device)
    pending, waited = list(architectures), 0
    while pending:
        waiting = []
        for architecture in pending:
            trained = False
            result = store.get(architecture.genotype, budget, key, arithmetic)
            if result is None:
                claim = store.try_claim(architecture.genotype, budget, key, arithmetic)
                if claim is None:
                    waiting.append(architecture)
                    continue
                with claim:
                    result = store.get(architecture.genotype, budget, key, arithmetic)  # stored meanwhile?
                    if result is None:
                        checkpoint = None if checkpoint_dir is None else training_checkpoint(
                            checkpoint_dir, architecture.genotype, budget, dataset, device
                        )
                        result = train(
                            architecture.genotype,
                            budget,
                            dataset,
                            device=device,
                            progress=progress,
                            on_epoch=on_epoch,
                            checkpoint=checkpoint,
                        )
                        store.put(architecture.genotype, budget, key, arithmetic, result)
                        trained = True
            on_result(architecture, result, trained)
        if waiting:
            if len(waiting) != waited:
                say(f"waiting for {len(waiting)} architectures that other workers are training")
            waited = len(waiting)
            time.sleep(poll_seconds)
        pending = waiting


def _describe(name: str, result: TrainResult, trained: bool) -> str:
    how = "trained" if trained else "stored"
    outcome = f"accuracy {result.accuracy:.4f}" if result.status == "ok" else f"failed: {result.reason}"
    return f"{name} {how}, {outcome}"


def _run_in_processes(
    architectures: Sequence[Architecture],
    budget: Budget,
    dataset: Dataset,
    store: ResultStore,
    device: torch.device,
    workers: int,
    threads: int | None,
    bar: Progress,
    checkpoint_dir: str | os.PathLike | None,
) -> dict[str, TrainResult]:
    """:func:`_run` in ``workers`` spawned processes on one store; they report their results here.

    The dataset's tensors reach the workers through shared memory (torch's multiprocessing).
    """
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    messages = context.Queue()
    threads = threads or threads_per_worker(workers)
    arguments = (list(architectures), budget, dataset, store.url, store.claim_seconds, str(device), threads, messages, checkpoint_dir)
    processes = [context.Process(target=_worker, args=arguments, name=f"nas-worker-{index}") for index in range(workers)]
    for process in processes:
        process.start()
    results: dict[str, TrainResult] = {}
    try:
        while any(process.is_alive() for process in processes) or not messages.empty():
            try:
                kind, *payload = messages.get(timeout=1.0)
            except queue.Empty:
                continue
            if kind == "error":
                raise NasError(f"a worker failed: {payload[0]}")
            if kind == "note":
                bar.write(payload[0])
                continue
            name, result, trained = payload
            if name not in results:
                results[name] = TrainResult(**result)
                bar.step(_describe(name, results[name], trained))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    missing = [arch.name for arch in architectures if arch.name not in results]
    if missing:
        raise NasError(f"workers ended without results for {len(missing)} architectures (first: {missing[0]})")
    return results


def _worker(
    architectures: list[Architecture],
    budget: Budget,
    dataset: Dataset,
    url: str,
    claim_seconds: float,
    device: str,
    threads: int,
    messages,
    checkpoint_dir: str | os.PathLike | None,
) -> None:
    """One process of :func:`_run_in_processes`: its share of threads, its own store handle and claims.

    The parent ends it with SIGTERM when another worker failed: that becomes SystemExit here,
    so a result being stored then is spooled and the claim released, not lost."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    torch.set_num_threads(threads)
    try:
        store = ResultStore(url, claim_seconds=claim_seconds)

        def report(architecture: Architecture, result: TrainResult, trained: bool) -> None:
            messages.put(("result", architecture.name, result.to_dict(), trained))

        def note(text: str) -> None:
            messages.put(("note", f"worker {os.getpid()}: {text}"))

        _run(architectures, budget, dataset, store, torch.device(device), report, note, progress=False, checkpoint_dir=checkpoint_dir)
    except KeyboardInterrupt:
        pass  # the parent was interrupted too and reports it
    except Exception as error:
        messages.put(("error", " ".join(str(error).split()) or type(error).__name__))
