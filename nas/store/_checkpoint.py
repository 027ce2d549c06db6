"""Per-epoch checkpoints, so that a long training killed at any moment resumes where it stopped.

A checkpoint is one file, written to a temp file of its own and renamed over the previous one, so a
kill during the write leaves the last complete checkpoint in place, and two processes checkpointing
into one folder never corrupt each other's files. It holds whatever state the caller
gives (models, optimizers, schedulers, scalers) plus every random number generator a training
draws from, so that a resumed run continues exactly as an uninterrupted one would (on CPU).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas._files import remove_stale_temps, save_atomically

_FILE = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators (CUDA's too when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoint:
    """The latest checkpoint of one run, in ``folder`` (created on the first save)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / _FILE

    def save(self, epoch: int, state: dict[str, Any]) -> None:
        """Record that ``epoch`` epochs are done, with ``state`` and the generators' state."""
        save_atomically({"epoch": epoch, "state": state, "rng": rng_state()}, self.path)

    def epochs_done(self) -> int:
        """Epochs the latest checkpoint holds (0 without one), leaving the generators alone."""
        if not self.path.is_file():
            return 0
        return torch.load(self.path, map_location="cpu", weights_only=False)["epoch"]

    def load(self, map_location: torch.device | str = "cpu") -> tuple[int, dict[str, Any]] | None:
        """``(epochs done, state)`` of the latest checkpoint, restoring the generators; ``None`` if none."""
        remove_stale_temps(self.folder, _FILE)  # writes that were killed, not those in progress
        if not self.path.is_file():
            return None
        saved = torch.load(self.path, map_location=map_location, weights_only=False)
        set_rng_state(saved["rng"])
        return saved["epoch"], saved["state"]
