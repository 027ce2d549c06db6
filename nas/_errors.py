"""Errors that the command line reports as one line, without a traceback."""


class NasError(Exception):
    """Base class of the user-facing errors of :mod:`nas`: bad input, never a bug."""


class GenotypeError(NasError, ValueError):
    """A genotype that does not parse or does not belong to the DARTS space."""


class BudgetError(NasError, ValueError):
    """A budget field out of its domain; the message names the field."""


class StoreError(NasError):
    """The result database cannot be opened or written."""


def display_url(url: str) -> str:
    """``url`` as it may be printed, logged or written into a report: its password masked
    (``postgresql://user:***@host/db``). Every message that shows a storage URL goes through this."""
    import re

    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: mask a user:password@ part all the same
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def hide_password(text: str, url: str) -> str:
    """``text`` (a driver's error message, say) with the password of ``url`` masked wherever it appears."""
    import sqlalchemy

    try:
        password = sqlalchemy.engine.make_url(url).password
    except Exception:
        return text
    return text.replace(str(password), "***") if password else text


def safe_name(name: str, limit: int = 80) -> str:
    """A user-given name as it may be printed on one line: control characters (newlines, ANSI
    escapes) written as escapes, and a long name shortened in the middle."""
    shown = name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
    if len(shown) <= limit:
        return shown
    head = (limit - 1) // 2
    return f"{shown[:head]}…{shown[len(shown) - (limit - 1 - head):]}"
