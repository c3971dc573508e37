"""redp.accounting.per_record: per-record bounds on quantised weights, bucketed."""

import numpy as np
import pytest

from redp import _reference
from redp.accounting import (
    DEFAULT_ORDERS,
    per_record_epsilon,
    per_record_rho,
    quantize_weights,
    rdp_to_epsilon,
    subsampled_gaussian_rdp,
    zcdp_to_epsilon,
)
from redp.errors import InputTypeError, PrivacyParameterError

ORDERS = np.asarray(DEFAULT_ORDERS)


def test_full_batch_closed_form_exactly():
    w = np.array([1.0, 0.5, 0.25, 0.0, 3 / 256])
    eps = per_record_epsilon(w, 1e-6, full_batch=0.2, uniform_rho=0.02)
    expect = [zcdp_to_epsilon(0.02 + x * x * 0.2, 1e-6) for x in w]
    np.testing.assert_array_equal(eps, expect)
    np.testing.assert_array_equal(per_record_rho(w, 0.2, uniform_rho=0.02), [0.02 + x * x * 0.2 for x in w])


def test_full_batch_sequence_is_summed():
    w = np.array([0.5, 1.0])
    np.testing.assert_array_equal(
        per_record_epsilon(w, 1e-6, full_batch=[0.1, 0.05, 0.05]),
        per_record_epsilon(w, 1e-6, full_batch=0.2),
    )


def test_dpsgd_closed_form_exactly():
    q, sigma, steps, u = 0.02, 0.9, 300, 0.01
    w = np.array([1.0, 0.5, 0.0])
    eps = per_record_epsilon(w, 1e-5, dpsgd=(q, sigma, steps), uniform_rho=u)
    for wi, e in zip(w, eps):
        sub = subsampled_gaussian_rdp(q, sigma / wi, steps, ORDERS) if wi > 0 else 0.0
        assert e == rdp_to_epsilon(ORDERS, sub + ORDERS * u, 1e-5)[0]


@pytest.mark.parametrize("uniform_rho", [0.0, 0.03])
def test_all_ones_equal_the_global_accountant(uniform_rho):
    w = np.ones(1000)
    # full batch
    got = per_record_epsilon(w, 1e-6, full_batch=0.4, uniform_rho=uniform_rho)
    assert np.all(got == zcdp_to_epsilon(uniform_rho + 0.4, 1e-6))
    # DP-SGD
    q, sigma, steps = 0.01, 1.1, 2000
    got = per_record_epsilon(w, 1e-6, dpsgd=(q, sigma, steps), uniform_rho=uniform_rho)
    global_eps = rdp_to_epsilon(ORDERS, subsampled_gaussian_rdp(q, sigma, steps, ORDERS) + ORDERS * uniform_rho, 1e-6)[0]
    assert np.all(got == global_eps)


def test_bucketing_matches_record_by_record_reference(rng):
    w = rng.uniform(0.0, 1.0, size=40)
    w[:3] = [0.0, 1.0, 0.5]
    for kwargs in [dict(full_batch=0.3, uniform_rho=0.01), dict(dpsgd=(0.05, 1.3, 200), uniform_rho=0.02),
                   dict(dpsgd=(0.05, 1.3, 200), full_batch=0.1)]:
        for grid in (256, 10):
            got = per_record_epsilon(w, 1e-6, grid=grid, **kwargs)
            ref = _reference.per_record_epsilon_reference(w, 1e-6, grid=grid, **kwargs)
            np.testing.assert_array_equal(got, ref)


def test_weights_are_quantised_up_never_down(rng):
    w = rng.uniform(0.0, 1.0, size=10_000)
    for grid in (256, 100, 7, 1):
        k = quantize_weights(w, grid)
        assert np.all(k / grid >= w)
        assert np.all((k - 1) / grid < w)
    # values exactly on the grid stay put
    np.testing.assert_array_equal(quantize_weights(np.arange(11) / 10, 10), np.arange(11))


def test_quantisation_only_raises_epsilon():
    w = np.array([0.301, 0.3])
    eps = per_record_epsilon(w, 1e-6, full_batch=0.5, grid=10)
    assert eps[0] == zcdp_to_epsilon(0.4 * 0.4 * 0.5, 1e-6)  # 0.301 -> 0.4
    assert eps[1] == zcdp_to_epsilon(0.3 * 0.3 * 0.5, 1e-6)  # exactly on the grid


def test_epsilon_increases_with_weight(rng):
    w = np.sort(rng.uniform(0, 1, 200))
    for kwargs in [dict(full_batch=0.3), dict(dpsgd=(0.02, 1.0, 500))]:
        eps = per_record_epsilon(w, 1e-6, **kwargs)
        assert np.all(np.diff(eps) >= 0)


def test_zero_weight_pays_only_the_uniform_part():
    eps = per_record_epsilon([0.0], 1e-6, dpsgd=(0.02, 1.0, 500), uniform_rho=0.05)
    assert eps[0] == rdp_to_epsilon(ORDERS, ORDERS * 0.05, 1e-6)[0]
    assert per_record_epsilon([0.0], 1e-6, dpsgd=(0.02, 1.0, 500))[0] == 0.0


def test_shape_and_dtype_are_kept():
    w = np.full((3, 4), 0.5, dtype=np.float32)
    eps = per_record_epsilon(w, 1e-6, full_batch=0.1)
    assert eps.shape == (3, 4) and eps.dtype == np.float64
    assert per_record_epsilon(np.empty(0), 1e-6, full_batch=0.1).shape == (0,)


def test_many_records_cost_about_as_much_as_the_grid(rng):
    w = rng.uniform(0.2, 1.0, size=300_000)
    eps = per_record_epsilon(w, 1e-6, dpsgd=(0.01, 1.0, 1000), uniform_rho=0.01)
    k = quantize_weights(w)
    # one value per occupied grid point
    assert len(np.unique(eps)) == len(np.unique(k))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: per_record_epsilon([0.5, 1.2], 1e-6, full_batch=0.1), PrivacyParameterError,
         r"The 'weights' parameter of per_record_epsilon must hold weights in \[0, 1\]. Got 1.2 instead."),
        (lambda: per_record_epsilon([-0.1], 1e-6, full_batch=0.1), PrivacyParameterError,
         r"must hold weights in \[0, 1\]. Got -0.1 instead."),
        (lambda: per_record_epsilon([np.nan], 1e-6, full_batch=0.1), PrivacyParameterError,
         r"must hold weights in \[0, 1\]. Got nan instead."),
        (lambda: per_record_epsilon(np.array([True]), 1e-6, full_batch=0.1), InputTypeError,
         r"The 'weights' parameter of per_record_epsilon must be an array of real numbers in \[0, 1\]. Got an array of dtype bool instead."),
        (lambda: per_record_epsilon([0.5], 1e-6), PrivacyParameterError,
         r"per_record_epsilon needs something to account: full_batch=, dpsgd= or a positive uniform_rho=."),
        (lambda: per_record_epsilon([0.5], 1e-6, dpsgd=(0.1, 1.0)), InputTypeError,
         r"The 'dpsgd' parameter of per_record_epsilon must be a tuple \(q, noise_multiplier, steps\)."),
        (lambda: per_record_epsilon([0.5], 1e-6, full_batch=0.1, grid=0), ValueError,
         r"The 'grid' parameter of per_record_epsilon must be an int in the range \[1, 16777216\]. Got 0 instead."),
        (lambda: per_record_rho([0.5], -1.0), PrivacyParameterError,
         r"The 'rho_2' parameter of per_record_rho must be a finite number in \[0.0, inf\). Got -1.0 instead."),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
