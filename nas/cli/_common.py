"""What every ``python -m nas`` command shares: budget, device, data and output options."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Callable

from nas._errors import NasError
from nas.estimation._budget import PRESETS, Budget, field_names, preset

DEFAULT_STORAGE = "sqlite:///nas.db"

SHARED_ENV = "NAS_SHARED"
"""Environment variable naming the shared folder (the CIFAR-10 zip, the authors' reference data)."""
SHARED_DIR = Path(os.environ.get(SHARED_ENV) or Path(__file__).resolve().parents[2].parent / "shared")
"""The shared folder the commands' defaults point into: ``$NAS_SHARED``, else ``shared/`` beside the
checkout (``../shared`` from the repository root)."""

Commands = Callable[[str, Callable, str], argparse.ArgumentParser]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, and descriptions laid out as written.

    An option without a default (None, False, an empty list) gets none appended: its help says what
    happens when it is left out; nor does one whose help already names its default.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        if action.help and "(default" in action.help:
            return action.help
        return super()._get_help_string(action)


def budget_from_args(args: argparse.Namespace) -> Budget:
    return preset(args.budget).with_settings(args.set)


def device_from_args(name: str | None):
    """The ``--device`` to train on, checked before anything is loaded or stored."""
    import torch

    from nas.estimation._trainer import default_device

    if name is None:
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NasError(f"unknown device {name!r} (use cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NasError("device 'cuda' asked for, but CUDA is not available on this machine")
    return device


def set_threads(threads: int | None) -> None:
    """Use ``--threads`` torch threads (default: torch's own, the cores or ``OMP_NUM_THREADS``)."""
    import torch

    if threads is None:
        return
    if threads < 1:
        raise NasError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload) if args.json else text)


def load_data(args: argparse.Namespace):
    from nas.data import load_dataset

    return load_dataset(args.data, cache_dir=args.cache_dir, download=args.download)


def budget_options(sub: argparse.ArgumentParser, required: bool = True, default: str | None = None) -> None:
    sub.add_argument(
        "--budget",
        required=required and default is None,
        default=default,
        help=f"budget preset to start from: {', '.join(PRESETS)}",
    )
    sub.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help=f"override fields of the preset, e.g. --set epochs=3 train_fraction=0.1; keys: {', '.join(field_names())}",
    )


def training_options(sub: argparse.ArgumentParser, budget: str | None = None) -> None:
    budget_options(sub, default=budget)
    sub.add_argument(
        "--data",
        required=True,
        help="CIFAR-10 JPEG zip, ImageFolder folder or zip, cifar10:ROOT, cifar100:ROOT, or synthetic[:N[:SEED]]",
    )
    sub.add_argument("--download", action="store_true", help="let torchvision download CIFAR into ROOT")
    sub.add_argument("--cache-dir", help="decoded-image cache (default: $OPTUNA_MIP_CACHE, else ~/.cache/optuna-mip)")
    sub.add_argument("--device", help="cuda or cpu (default: cuda when available, else cpu)")
    sub.add_argument(
        "--quiet", action="store_true", help="no progress output (bars on a terminal, else one line per step)"
    )
    sub.add_argument(
        "--threads", type=int, help="torch threads of each training process (default: the cores, shared out among --workers)"
    )
