"""``python -m nas``: one parser; each area of the package registers its own commands.

Every command takes ``--plugin MODULE`` (repeatable): the module is imported before the command
runs, so the strategies and estimators it registers (:func:`nas.search.register_strategy`,
:func:`nas.estimation.register_estimator`) are known to it, e.g.
``python -m nas search --plugin my_strategies --strategy annealing ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from nas._errors import NasError
from nas.cli import _estimation, _oneshot, _search
from nas.cli._common import HelpFormatter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas",
        description="Budgeted performance estimation and search on the DARTS space.",
        epilog="A command's options: COMMAND --help.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        sub.set_defaults(handler=handler)
        sub.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
        sub.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE (on the Python path) first, for the strategies or estimators it registers; repeatable",
        )
        return sub

    _estimation.register(command)
    _search.register(command)
    _oneshot.register(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _import_plugins(args.plugin)
        return args.handler(args) or 0
    except NasError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # Optuna's storage failing, with the cause it wraps (a corrupted file, a full disk)
        optuna = sys.modules.get("optuna")
        if optuna is None or not isinstance(error, optuna.exceptions.StorageInternalError):
            raise
        from nas.search._study import storage_reason

        print(f"error: the study storage failed: {storage_reason(error, getattr(args, 'storage', None) or '')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished results are stored; run the same command again to resume", file=sys.stderr)
        return 130


def _import_plugins(modules: Sequence[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise NasError(f"cannot import plugin {module!r}: {error}") from None
        except ValueError as error:  # a name the plugin registers is taken
            raise NasError(f"plugin {module!r}: {error}") from None


__all__ = ["main"]
