"""redp.accounting.budget: Budget (validated, immutable, splits round down) and PrivacyLedger."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redp.accounting import (
    DEFAULT_ORDERS,
    Budget,
    PrivacyLedger,
    epsilon_to_zcdp,
    rdp_to_epsilon,
    subsampled_gaussian_rdp,
    zcdp_to_epsilon,
)
from redp.errors import BudgetExceededError, InputTypeError, PrivacyParameterError


def test_budget_from_epsilon_delta_uses_cks_inverse():
    b = Budget(epsilon=2.0, delta=1e-7)
    assert b.rho == epsilon_to_zcdp(2.0, 1e-7)
    assert (b.epsilon, b.delta) == (2.0, 1e-7)
    assert zcdp_to_epsilon(b.rho, b.delta) <= b.epsilon


def test_budget_from_rho():
    assert Budget(rho=0.5).rho == 0.5
    assert Budget(rho=0.5).epsilon is None
    b = Budget(rho=0.5, delta=1e-6)
    assert b.epsilon == zcdp_to_epsilon(0.5, 1e-6)
    assert b == Budget(rho=0.5, delta=1e-6)
    assert repr(Budget(rho=0.25)) == "Budget(rho=0.25)"


def test_budget_is_immutable():
    b = Budget(rho=1.0)
    with pytest.raises(AttributeError, match="Budget is immutable"):
        b.rho = 2.0
    with pytest.raises(AttributeError):
        b.new_attribute = 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epsilon=1.0), r"Budget needs either epsilon= and delta=, or rho= \(zCDP\)"),
        (dict(epsilon=1.0, rho=0.1), r"Budget takes epsilon= and delta=, or rho="),
        (dict(epsilon=-1.0, delta=1e-5), r"The 'epsilon' parameter of Budget must be a finite number in \(0.0, inf\). Got -1.0 instead."),
        (dict(epsilon=1.0, delta=1.0), r"The 'delta' parameter of Budget must be a finite number in \(0.0, 1.0\). Got 1.0 instead."),
        (dict(rho=float("inf")), r"The 'rho' parameter of Budget must be a finite number in \[0.0, inf\). Got inf instead."),
    ],
)
def test_bad_budgets(kwargs, match):
    with pytest.raises(PrivacyParameterError, match=match):
        Budget(**kwargs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    rho=st.floats(1e-6, 100.0),
    raw=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=12),
)
def test_split_never_exceeds_the_whole(rho, raw):
    total = sum(raw)
    fractions = [f / total for f in raw]  # sums to 1 up to rounding (sometimes just above)
    parts = Budget(rho=rho).split(fractions)
    assert len(parts) == len(fractions)
    running = 0.0
    for p, f in zip(parts, fractions):
        assert 0.0 <= p <= rho * f
        running += p
    assert running <= rho
    assert math.fsum(parts) <= rho
    assert sum(reversed(parts)) <= rho


def test_split_rounds_down_even_when_exact():
    # 0.5 * 1.0 is exact; the part is still one ulp below
    a, b = Budget(rho=1.0).split([0.5, 0.5])
    assert a == b == np.nextafter(0.5, 0.0)


def test_split_errors():
    with pytest.raises(PrivacyParameterError, match=r"must sum to at most 1. Got 1.1 instead."):
        Budget(rho=1.0).split([0.5, 0.6])
    with pytest.raises(PrivacyParameterError, match=r"must not be empty"):
        Budget(rho=1.0).split([])
    with pytest.raises(PrivacyParameterError, match=r"The 'fractions' parameter of Budget.split must be a finite number in \(0.0, 1.0\]. Got 0.0 instead."):
        Budget(rho=1.0).split([0.0, 0.5])
    with pytest.raises(InputTypeError, match=r"must be a sequence of floats"):
        Budget(rho=1.0).split(0.5)


def test_ledger_records_and_reports():
    budget = Budget(epsilon=1.0, delta=1e-6)
    ledger = budget.ledger()
    r1, r2 = budget.split([0.3, 0.7])
    e1 = ledger.spend(r1, name="scores", m=200)
    e2 = ledger.spend(sigma=3.0, sensitivity=0.5, name="marginal")
    assert e1.rho == r1 and e1.meta == {"m": 200}
    assert e2.rho == 0.25 / 18 and e2.sigma == 3.0 and e2.sensitivity == 0.5 and e2.kind == "gaussian"
    assert ledger.spent == r1 + 0.25 / 18
    assert ledger.remaining == budget.rho - ledger.spent
    assert [e.name for e in ledger.entries] == ["scores", "marginal"]
    assert ledger.epsilon() == zcdp_to_epsilon(ledger.spent, 1e-6)
    assert ledger.epsilon(1e-3) == zcdp_to_epsilon(ledger.spent, 1e-3)


def test_all_split_parts_can_be_spent():
    budget = Budget(epsilon=3.0, delta=1e-8)
    ledger = budget.ledger()
    parts = budget.split([0.1] * 10)
    ledger.check(sum(parts))
    for j, p in enumerate(parts):
        ledger.spend(p, name=f"part {j}")
    assert ledger.spent <= budget.rho
    assert ledger.epsilon() <= 3.0


def test_overspending_raises_before_recording():
    ledger = PrivacyLedger(Budget(rho=0.5))
    ledger.spend(0.3, name="first")
    with pytest.raises(BudgetExceededError, match=r"Spending rho=0.3 on 'second' would bring the total to 0.6, above the budget rho=0.5"):
        ledger.spend(0.3, name="second")
    assert ledger.spent == 0.3 and len(ledger.entries) == 1
    with pytest.raises(BudgetExceededError):
        ledger.check(0.2 + 1e-12)
    ledger.check(0.2)  # dry run, fits
    assert len(ledger.entries) == 1
    with pytest.raises(BudgetExceededError):
        ledger.check(sigma=0.1)  # implied rho = 50


def test_under_reported_gaussian_is_refused():
    ledger = Budget(rho=1.0).ledger()
    with pytest.raises(PrivacyParameterError, match=r"under-reports a Gaussian mechanism: sigma=1.0 and sensitivity=1.0 cost rho=0.5. Got 0.1 instead."):
        ledger.spend(0.1, sigma=1.0, name="x")
    with pytest.raises(PrivacyParameterError, match=r"needs rho=, or sigma="):
        ledger.spend(name="nothing")
    with pytest.raises(InputTypeError, match=r"The 'name' parameter of PrivacyLedger.spend must be a str. Got 3 instead."):
        ledger.spend(0.1, name=3)
    with pytest.raises(InputTypeError, match=r"The 'budget' parameter of PrivacyLedger must be a Budget"):
        PrivacyLedger(0.5)


def test_rdp_spends_compose_with_zcdp_spends():
    orders = np.asarray(DEFAULT_ORDERS)
    budget = Budget(epsilon=4.0, delta=1e-5)
    ledger = budget.ledger()
    ledger.spend(0.05, name="stage 1")
    rdp = subsampled_gaussian_rdp(0.01, 1.0, 1000, orders)
    entry = ledger.spend_rdp(rdp, name="dp-sgd", q=0.01)
    assert entry.rho is None and entry.rdp == tuple(rdp.tolist()) and entry.kind == "subsampled_gaussian"
    expect = rdp_to_epsilon(orders, orders * 0.05 + rdp, 1e-5)[0]
    assert ledger.epsilon() == expect
    assert ledger.remaining is None
    # another big DP-SGD run would exceed epsilon=4: refused, nothing recorded
    with pytest.raises(BudgetExceededError, match=r"would bring the total to epsilon="):
        ledger.spend_rdp(rdp * 20, name="too much")
    assert len(ledger.entries) == 2
    # zCDP spends are now checked through the RDP composition too
    with pytest.raises(BudgetExceededError):
        ledger.spend(5.0, name="huge")
    with pytest.raises(PrivacyParameterError, match=r"must equal the ledger's orders"):
        ledger.spend_rdp(rdp[:10], orders=orders[:10], name="other orders")


def test_rdp_spend_needs_epsilon_and_delta():
    ledger = Budget(rho=1.0).ledger()
    with pytest.raises(PrivacyParameterError, match=r"needs RDP composition, which needs a budget with epsilon and delta"):
        ledger.spend_rdp(subsampled_gaussian_rdp(0.01, 1.0, 10, DEFAULT_ORDERS), name="dp-sgd")
    assert ledger.entries == () and ledger.remaining == 1.0
    with pytest.raises(PrivacyParameterError, match="needs delta="):
        ledger.epsilon()
