"""``python -m nas``: one parser; each area of the package registers its own commands."""

from __future__ import annotations

import argparse
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
        return sub

    _estimation.register(command)
    _search.register(command)
    _oneshot.register(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
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


__all__ = ["main"]
