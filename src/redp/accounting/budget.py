"""Privacy budgets and the ledger every mechanism spends through.

A :class:`Budget` is validated once and then immutable. Internally redp
accounts in zCDP: ``Budget(epsilon=, delta=)`` stores the largest ``rho`` whose
CKS conversion stays within ``epsilon`` (:func:`~redp.accounting.epsilon_to_zcdp`).
``split`` rounds every part *down* (``nextafter`` towards 0, OpenDP-style), so
the parts, summed in any order, never exceed the whole.

A :class:`PrivacyLedger` records what each mechanism spent. ``spend`` checks
first and records second: a spend that would exceed the budget raises
:class:`~redp.errors.BudgetExceededError` and leaves the ledger untouched, so
the caller must not release anything. ``check`` is the same test as a dry run.
DP-SGD style mechanisms that have an RDP curve instead of a zCDP ``rho`` use
``spend_rdp``; the ledger then composes ``alpha * rho_spent + sum(rdp)`` and
compares its (epsilon, delta) conversion with the budget's epsilon.

Examples
--------
>>> from redp.accounting import Budget
>>> budget = Budget(epsilon=1.0, delta=1e-6)
>>> scoring, synthesis = budget.split([0.1, 0.9])
>>> scoring + synthesis <= budget.rho
True
>>> ledger = budget.ledger()
>>> entry = ledger.spend(scoring, name="stage-1 scores")
>>> ledger.remaining == budget.rho - scoring
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .._validation import check_real
from ..errors import BudgetExceededError, InputTypeError, PrivacyParameterError
from .gaussian import gaussian_zcdp
from .rdp import DEFAULT_ORDERS, _as_orders, _as_rdp_curve, _check_rdp_values, _eps_matrix
from .zcdp import epsilon_to_zcdp, zcdp_to_epsilon

__all__ = ["Budget", "PrivacyLedger", "LedgerEntry"]


def _round_down(x: float) -> float:
    return float(np.nextafter(x, 0.0)) if x > 0.0 else 0.0


class Budget:
    """A validated, immutable privacy budget, held as zCDP ``rho``.

    Parameters
    ----------
    epsilon, delta : float, optional
        An (epsilon, delta) target; ``rho`` is then the largest zCDP budget whose
        CKS conversion at ``delta`` is at most ``epsilon``.
    rho : float, optional
        A zCDP budget. With ``delta`` as well, ``epsilon`` is its CKS conversion.

    Attributes
    ----------
    epsilon : float or None
    delta : float or None
    rho : float

    Examples
    --------
    >>> b = Budget(epsilon=1.0, delta=1e-5)
    >>> round(b.rho, 6)
    0.030557
    >>> Budget(rho=0.5).epsilon is None
    True
    >>> b.rho = 2.0
    Traceback (most recent call last):
    ...
    AttributeError: Budget is immutable; build a new one (e.g. with split()).
    """

    __slots__ = ("epsilon", "delta", "rho")

    def __init__(self, *, epsilon=None, delta=None, rho=None):
        func = "Budget"
        if rho is None:
            if epsilon is None or delta is None:
                raise PrivacyParameterError(
                    "Budget needs either epsilon= and delta=, or rho= (zCDP). "
                    f"Got epsilon={epsilon!r}, delta={delta!r}, rho={rho!r}."
                )
            epsilon = check_real(epsilon, "epsilon", func, low=0.0, low_open=True, error=PrivacyParameterError)
            delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                               error=PrivacyParameterError)
            rho = epsilon_to_zcdp(epsilon, delta)
        else:
            if epsilon is not None:
                raise PrivacyParameterError(
                    "Budget takes epsilon= and delta=, or rho= (optionally with delta=), not both "
                    f"epsilon and rho. Got epsilon={epsilon!r}, rho={rho!r}."
                )
            rho = check_real(rho, "rho", func, low=0.0, error=PrivacyParameterError)
            if delta is not None:
                delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                                   error=PrivacyParameterError)
                epsilon = zcdp_to_epsilon(rho, delta)
        object.__setattr__(self, "epsilon", epsilon)
        object.__setattr__(self, "delta", delta)
        object.__setattr__(self, "rho", float(rho))

    def __setattr__(self, name, value):
        raise AttributeError("Budget is immutable; build a new one (e.g. with split()).")

    def __repr__(self):
        if self.epsilon is not None and self.delta is not None:
            return f"Budget(epsilon={self.epsilon!r}, delta={self.delta!r}, rho={self.rho!r})"
        return f"Budget(rho={self.rho!r})"

    def __eq__(self, other):
        if not isinstance(other, Budget):
            return NotImplemented
        return (self.epsilon, self.delta, self.rho) == (other.epsilon, other.delta, other.rho)

    def __hash__(self):
        return hash((self.epsilon, self.delta, self.rho))

    def split(self, fractions):
        """Split ``rho`` into parts proportional to ``fractions``, each rounded down.

        Parameters
        ----------
        fractions : sequence of float
            Positive shares summing to at most 1 (up to 1e-12 for rounding, e.g.
            ``[0.1] * 10``).

        Returns
        -------
        parts : tuple of float
            The zCDP ``rho * f`` of each part, rounded down; their sum
            (sequential or exact) never exceeds ``self.rho``. Wrap a part as
            ``Budget(rho=part, delta=budget.delta)`` to give it its own ledger.

        Examples
        --------
        >>> parts = Budget(rho=0.3).split([1 / 3] * 3)
        >>> parts[0] < 0.1 and sum(parts) <= 0.3
        True
        >>> Budget(rho=1.0).split([0.5, 0.6])
        Traceback (most recent call last):
        ...
        redp.errors.PrivacyParameterError: The 'fractions' parameter of Budget.split must sum to at most 1. Got 1.1 instead.
        """
        func = "Budget.split"
        try:
            fr = [f for f in fractions]
        except TypeError as exc:
            raise InputTypeError(
                f"The 'fractions' parameter of {func} must be a sequence of floats. Got {fractions!r} instead."
            ) from exc
        if not fr:
            raise PrivacyParameterError(f"The 'fractions' parameter of {func} must not be empty. Got [] instead.")
        fr = [check_real(f, "fractions", func, low=0.0, high=1.0, low_open=True, error=PrivacyParameterError)
              for f in fr]
        total = math.fsum(fr)
        if total > 1.0 + 1e-12:
            raise PrivacyParameterError(
                f"The 'fractions' parameter of {func} must sum to at most 1. Got {total!r} instead."
            )
        parts = [_round_down(self.rho * f) for f in fr]

        def fits(ps):
            for order in (ps, ps[::-1], sorted(ps), sorted(ps, reverse=True)):
                seq = 0.0
                for p in order:
                    seq += p
                if seq > self.rho:
                    return False
            # the ledger adds in call order, callers may add in any: check the usual orders too
            orders = (ps[::-1], sorted(ps), sorted(ps, reverse=True))
            return seq <= self.rho and math.fsum(ps) <= self.rho and all(sum(o) <= self.rho for o in orders)

        while not fits(parts):
            parts = [_round_down(p) for p in parts]
        return tuple(parts)

    def ledger(self) -> "PrivacyLedger":
        """A fresh :class:`PrivacyLedger` over this budget.

        Examples
        --------
        >>> Budget(rho=1.0).ledger().spent
        0.0
        """
        return PrivacyLedger(self)


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded spend (immutable).

    ``rho`` is the zCDP cost for zCDP spends and ``None`` for RDP spends, which
    carry their curve in ``rdp`` (one value per ledger order).
    """

    name: str
    kind: str
    rho: float | None
    sigma: float | None = None
    sensitivity: float | None = None
    rdp: tuple | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class PrivacyLedger:
    """Record of what each mechanism spent against a :class:`Budget`.

    Parameters
    ----------
    budget : Budget

    Examples
    --------
    >>> ledger = PrivacyLedger(Budget(rho=0.5))
    >>> e = ledger.spend(sigma=2.0, sensitivity=1.0, name="one-way marginals")
    >>> e.rho, ledger.spent, ledger.remaining
    (0.125, 0.125, 0.375)
    >>> ledger.spend(0.4, name="too much")
    Traceback (most recent call last):
    ...
    redp.errors.BudgetExceededError: Spending rho=0.4 on 'too much' would bring the total to 0.525, above the budget rho=0.5 (0.375 left). Nothing was recorded: lower the spend or split the budget differently.
    >>> len(ledger.entries)
    1
    """

    def __init__(self, budget):
        if not isinstance(budget, Budget):
            raise InputTypeError(
                f"The 'budget' parameter of PrivacyLedger must be a Budget. Got {budget!r} instead."
            )
        self._budget = budget
        self._entries: list[LedgerEntry] = []
        self._spent = 0.0
        self._orders: np.ndarray | None = None
        self._rdp_sum: np.ndarray | None = None

    @property
    def budget(self) -> Budget:
        """The budget this ledger spends against."""
        return self._budget

    @property
    def entries(self) -> tuple:
        """All recorded spends, oldest first."""
        return tuple(self._entries)

    @property
    def spent(self) -> float:
        """Total zCDP rho of the zCDP spends (RDP spends are not included)."""
        return self._spent

    @property
    def remaining(self):
        """zCDP rho left (``budget.rho - spent``); ``None`` once the ledger holds RDP spends."""
        if self._rdp_sum is not None:
            return None
        return self._budget.rho - self._spent

    # -- checks -------------------------------------------------------------
    @staticmethod
    def _rdp_epsilon(rho_total, rdp_total, orders, delta):
        curve = (orders * rho_total + rdp_total)[None, :]
        return float(max(np.min(_eps_matrix(orders, curve, math.log(delta))[0]), 0.0))

    def _check(self, rho_add, rdp_add, name):
        b = self._budget
        new_rho = self._spent + rho_add
        if self._rdp_sum is None and rdp_add is None:
            if new_rho > b.rho:
                raise BudgetExceededError(
                    f"Spending rho={rho_add!r} on {name!r} would bring the total to {new_rho!r}, above "
                    f"the budget rho={b.rho!r} ({b.rho - self._spent!r} left). Nothing was recorded: "
                    "lower the spend or split the budget differently."
                )
            return
        if b.epsilon is None or b.delta is None:
            raise PrivacyParameterError(
                f"Spend {name!r} needs RDP composition, which needs a budget with epsilon and delta; "
                f"got {b!r}. Build it as Budget(epsilon=..., delta=...) or Budget(rho=..., delta=...)."
            )
        orders = self._orders
        rdp_total = self._rdp_sum if self._rdp_sum is not None else np.zeros_like(orders)
        if rdp_add is not None:
            rdp_total = rdp_total + rdp_add
        eps = self._rdp_epsilon(new_rho, rdp_total, orders, b.delta)
        if eps > b.epsilon:
            raise BudgetExceededError(
                f"Spending on {name!r} would bring the total to epsilon={eps!r} at delta={b.delta!r}, "
                f"above the budget epsilon={b.epsilon!r}. Nothing was recorded: lower the spend or "
                "split the budget differently."
            )

    def _validate_rho(self, rho, sigma, sensitivity, kind, func):
        if sigma is not None:
            sigma = check_real(sigma, "sigma", func, low=0.0, low_open=True, error=PrivacyParameterError)
            sensitivity = 1.0 if sensitivity is None else sensitivity
            sensitivity = check_real(sensitivity, "sensitivity", func, low=0.0, low_open=True,
                                     error=PrivacyParameterError)
        if rho is None:
            if sigma is None or kind != "gaussian":
                raise PrivacyParameterError(
                    f"{func} needs rho=, or sigma= (and sensitivity=) of a Gaussian mechanism. Got neither."
                )
            rho = gaussian_zcdp(sigma, sensitivity)
        else:
            rho = check_real(rho, "rho", func, low=0.0, error=PrivacyParameterError)
            if kind == "gaussian" and sigma is not None:
                implied = gaussian_zcdp(sigma, sensitivity)
                if rho < implied:
                    raise PrivacyParameterError(
                        f"The 'rho' parameter of {func} under-reports a Gaussian mechanism: sigma={sigma!r} "
                        f"and sensitivity={sensitivity!r} cost rho={implied!r}. Got {rho!r} instead."
                    )
        return rho, sigma, sensitivity

    def check(self, rho=None, *, sigma=None, sensitivity=None, kind="gaussian", name="(dry run)") -> None:
        """Raise :class:`~redp.errors.BudgetExceededError` if ``spend`` with these arguments would.

        Records nothing.

        Examples
        --------
        >>> ledger = Budget(rho=0.1).ledger()
        >>> ledger.check(0.1) is None
        True
        >>> ledger.check(0.2)
        Traceback (most recent call last):
        ...
        redp.errors.BudgetExceededError: Spending rho=0.2 on '(dry run)' would bring the total to 0.2, above the budget rho=0.1 (0.1 left). Nothing was recorded: lower the spend or split the budget differently.
        """
        rho, _, _ = self._validate_rho(rho, sigma, sensitivity, kind, "PrivacyLedger.check")
        self._check(rho, None, name)

    def spend(self, rho=None, *, name, kind="gaussian", sigma=None, sensitivity=None, **meta) -> LedgerEntry:
        """Record a zCDP spend, after checking it fits; raises before recording otherwise.

        Parameters
        ----------
        rho : float, optional
            zCDP cost. If omitted, ``kind="gaussian"`` with ``sigma`` (and
            ``sensitivity``, default 1) gives ``sensitivity^2 / (2 sigma^2)``.
        name : str
            What was measured (shown in reports and errors).
        kind : str, default="gaussian"
        sigma, sensitivity : float, optional
            Noise scale and L2 sensitivity of a Gaussian mechanism; if given
            with ``rho``, ``rho`` may not be smaller than what they imply.
        **meta
            Extra facts to keep with the entry (e.g. ``n_measurements=3``).

        Returns
        -------
        LedgerEntry

        Examples
        --------
        >>> ledger = Budget(rho=1.0).ledger()
        >>> ledger.spend(0.25, name="scores", kind="gaussian", sigma=2.0, sensitivity=1.0, m=500).meta["m"]
        500
        """
        func = "PrivacyLedger.spend"
        if not isinstance(name, str):
            raise InputTypeError(f"The 'name' parameter of {func} must be a str. Got {name!r} instead.")
        rho, sigma, sensitivity = self._validate_rho(rho, sigma, sensitivity, kind, func)
        self._check(rho, None, name)
        entry = LedgerEntry(name=name, kind=str(kind), rho=rho, sigma=sigma, sensitivity=sensitivity,
                            meta=dict(meta))
        self._entries.append(entry)
        self._spent = self._spent + rho
        return entry

    def spend_rdp(self, rdp, *, name, orders=DEFAULT_ORDERS, kind="subsampled_gaussian", **meta) -> LedgerEntry:
        """Record a spend given as an RDP curve (e.g. DP-SGD), after checking it fits.

        The first RDP spend fixes the ledger's orders; later ones must use the
        same orders. The budget must carry ``epsilon`` and ``delta``.

        Examples
        --------
        >>> from redp.accounting import subsampled_gaussian_rdp, DEFAULT_ORDERS
        >>> ledger = Budget(epsilon=3.0, delta=1e-5).ledger()
        >>> rdp = subsampled_gaussian_rdp(0.01, 1.0, 1000, DEFAULT_ORDERS)
        >>> _ = ledger.spend_rdp(rdp, name="dp-sgd", q=0.01, noise_multiplier=1.0, steps=1000)
        >>> 0.0 < ledger.epsilon() <= 3.0
        True
        """
        func = "PrivacyLedger.spend_rdp"
        if not isinstance(name, str):
            raise InputTypeError(f"The 'name' parameter of {func} must be a str. Got {name!r} instead.")
        arr, _ = _as_orders(orders, func)
        if self._orders is not None and not np.array_equal(arr, self._orders):
            raise PrivacyParameterError(
                f"The 'orders' parameter of {func} must equal the ledger's orders (fixed by the first RDP "
                "spend). Got different orders instead."
            )
        r = _as_rdp_curve(rdp, arr, func)
        _check_rdp_values(r, func)
        if self._orders is None:
            self._orders = arr  # provisional, reverted below if the check fails
            try:
                self._check(0.0, r, name)
            except Exception:
                self._orders = None
                raise
        else:
            self._check(0.0, r, name)
        entry = LedgerEntry(name=name, kind=str(kind), rho=None, rdp=tuple(r.tolist()),
                            meta=dict(meta))
        self._entries.append(entry)
        self._rdp_sum = r.copy() if self._rdp_sum is None else self._rdp_sum + r
        return entry

    def epsilon(self, delta=None) -> float:
        """epsilon of everything spent so far, at ``delta`` (default: the budget's delta).

        zCDP-only ledgers use the CKS conversion of ``spent``; ledgers with RDP
        spends convert ``alpha * spent + sum(rdp)`` over the ledger's orders.

        Examples
        --------
        >>> ledger = Budget(epsilon=1.0, delta=1e-6).ledger()
        >>> _ = ledger.spend(ledger.budget.rho / 2, name="half")
        >>> 0.0 < ledger.epsilon() < 1.0
        True
        """
        if delta is None:
            delta = self._budget.delta
            if delta is None:
                raise PrivacyParameterError(
                    "PrivacyLedger.epsilon needs delta= for a budget built from rho alone."
                )
        delta = check_real(delta, "delta", "PrivacyLedger.epsilon", low=0.0, high=1.0, low_open=True,
                           high_open=True, error=PrivacyParameterError)
        if self._rdp_sum is None:
            return zcdp_to_epsilon(self._spent, delta)
        return self._rdp_epsilon(self._spent, self._rdp_sum, self._orders, delta)
