"""redp: risk-equalized differentially private synthetic data.

A small part of the privacy budget privately scores how much each record stands
out; the DP generator then weights each record inversely to that risk, so
outliers get tighter per-record privacy bounds while the worst-case guarantee
stays that of the unweighted generator.
"""

__version__ = "0.1.0"

from . import errors  # noqa: F401
