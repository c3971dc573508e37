"""Typed errors raised by redp.

Every error is raised *before* any privacy budget is charged. Each subclasses
the built-in exception a caller would already catch (``ValueError`` or
``TypeError``), so ``except ValueError`` keeps working.

Examples
--------
>>> from redp.errors import BudgetExceededError
>>> issubclass(BudgetExceededError, ValueError)
True
"""

__all__ = [
    "RedpError",
    "SchemaError",
    "UnseenCategoryError",
    "MissingValueError",
    "OutOfBoundsError",
    "InputTypeError",
    "PrivacyParameterError",
    "BudgetExceededError",
    "DomainTooLargeError",
    "NumericalPrecisionError",
    "NotFittedError",
    "ParameterError",
    "InsecureRandomnessWarning",
    "WeakPrivacyWarning",
    "NonPrivateInputWarning",
]


class RedpError(Exception):
    """Base class of every error redp raises on purpose."""


class SchemaError(RedpError, ValueError):
    """The data does not match the public schema, or the schema itself is invalid."""


class UnseenCategoryError(SchemaError):
    """A categorical value is not among the column's public levels."""


class MissingValueError(SchemaError):
    """NaN, inf or a missing value where the schema declares none."""


class OutOfBoundsError(SchemaError):
    """A value lies outside its public bounds and ``strict=True`` was asked for."""


class InputTypeError(RedpError, TypeError):
    """An argument has a dtype or type redp cannot use (object, complex, ...)."""


class PrivacyParameterError(RedpError, ValueError):
    """epsilon, delta, rho, sigma, a sampling rate or a step count is invalid."""


class BudgetExceededError(RedpError, ValueError):
    """Spending would exceed the privacy budget; nothing was released."""


class DomainTooLargeError(RedpError, ValueError):
    """A marginal or histogram would have more cells than allowed."""


class NumericalPrecisionError(RedpError, ArithmeticError):
    """A privacy computation lost precision; refusing to return a smaller epsilon."""


class NotFittedError(RedpError, ValueError):
    """The estimator must be fitted before this call."""


class ParameterError(RedpError, ValueError):
    """A size, count, seed or other non-privacy argument is outside its allowed range."""


class WeakPrivacyWarning(UserWarning):
    """The privacy parameters are valid but give a weak guarantee (e.g. delta > 1/n)."""


class InsecureRandomnessWarning(UserWarning):
    """DP noise drawn from a seeded (non-cryptographic) generator: not for releases."""


class NonPrivateInputWarning(UserWarning):
    """A public input (bounds, levels, sizes) was read off the private data."""
