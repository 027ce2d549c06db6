"""Errors that the command line reports as one line, without a traceback."""

import re


class NasError(Exception):
    """Base class of the user-facing errors of :mod:`nas`: bad input, never a bug."""


class GenotypeError(NasError, ValueError):
    """A genotype that does not parse or does not belong to the DARTS space."""


class BudgetError(NasError, ValueError):
    """A budget field out of its domain; the message names the field."""


class StoreError(NasError):
    """The result database cannot be opened or written."""


_USERINFO_PASSWORD = re.compile(r"(//[^:/@?#]*:)([^/?#]*)@")  # to the last '@': a password may hold an unencoded one
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)  # libpq's ?password=...


def display_url(url: str) -> str:
    """``url`` as it may be printed, logged or written into a report: its password masked, in the
    user part (``postgresql://user:***@host/db``) or the query (``?password=***``). Every message
    that shows a storage URL goes through this."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url, count=1))


def hide_password(text: str, url: str) -> str:
    """``text`` (a driver's error message, say) with the password of ``url`` masked wherever it appears."""
    from urllib.parse import unquote

    secrets = {match.group(2) for match in (*_USERINFO_PASSWORD.finditer(url), *_QUERY_PASSWORD.finditer(url))}
    for secret in sorted(secrets | {unquote(secret) for secret in secrets}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def safe_name(name: str, limit: int = 80) -> str:
    """A user-given name as it may be printed on one line: control characters (newlines, ANSI
    escapes) written as escapes, and a long name shortened in the middle."""
    shown = name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
    if len(shown) <= limit:
        return shown
    head = (limit - 1) // 2
    return f"{shown[:head]}…{shown[len(shown) - (limit - 1 - head):]}"
