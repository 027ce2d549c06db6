"""Errors that the command line reports as one line, without a traceback."""


class NasError(Exception):
    """Base class of the user-facing errors of :mod:`nas`: bad input, never a bug."""


class GenotypeError(NasError, ValueError):
    """A genotype that does not parse or does not belong to the DARTS space."""


class BudgetError(NasError, ValueError):
    """A budget field out of its domain; the message names the field."""


class StoreError(NasError):
    """The result database cannot be opened or written."""
