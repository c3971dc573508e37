import numpy as np
import pytest

from redp.audit import roc_auc, shadow
from redp.errors import InputTypeError


def copy_fit_sample(rows, rng):
    """A memorising 'synthesizer': the training rows plus tiny noise."""
    return rows + rng.normal(scale=0.01, size=rows.shape)


def independent_fit_sample(rows, rng):
    """Ignores its training data: a fresh population sample."""
    return rng.normal(size=(len(rows), rows.shape[1]))


def _setup(rng, fit_sample):
    members, non_members, reference = (rng.normal(size=(n, 2)) for n in (30, 30, 200))
    released = fit_sample(np.vstack([members, reference[:70]]), rng)
    targets = np.vstack([members, non_members])
    labels = np.repeat([1, 0], 30)
    return targets, released, reference, labels


def test_shadow_detects_memorisation(rng):
    targets, released, reference, labels = _setup(rng, copy_fit_sample)
    res = shadow(targets, released, reference, copy_fit_sample, n_shadow=4, n_train=100, rng=rng)
    np.testing.assert_array_equal(res.index, np.arange(60))
    assert res.in_stats.shape == res.out_stats.shape == (60, 4)
    assert roc_auc(res.scores, labels) > 0.95


def test_shadow_independent_synthesizer_is_chance(rng):
    targets, released, reference, labels = _setup(rng, independent_fit_sample)
    res = shadow(targets, released, reference, independent_fit_sample, n_shadow=4, n_train=100, rng=rng)
    assert abs(roc_auc(res.scores, labels) - 0.5) < 0.2


def test_shadow_subset_and_determinism(rng):
    targets, released, reference, labels = _setup(rng, copy_fit_sample)
    a = shadow(targets, released, reference, copy_fit_sample, n_shadow=3, max_targets=7, n_train=50, rng=5,
               n_workers=1)
    b = shadow(targets, released, reference, copy_fit_sample, n_shadow=3, max_targets=7, n_train=50, rng=5,
               n_workers=2)
    assert len(a.index) == 7 and np.all(np.diff(a.index) > 0)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.scores, b.scores)
    c = shadow(targets, released, reference, copy_fit_sample, n_shadow=3, max_targets=7, n_train=50, rng=5,
               fixed_variance=False, n_workers=1)
    assert np.all(np.isfinite(c.scores))


def test_shadow_errors(rng):
    T, R = rng.normal(size=(4, 2)), rng.normal(size=(10, 2))
    with pytest.raises(InputTypeError, match="The 'fit_sample' parameter of shadow must be callable"):
        shadow(T, R, R, None)
    with pytest.raises(ValueError, match=r"The 'n_shadow' parameter of shadow must be an int in the range \[2, inf\). Got 1 instead."):
        shadow(T, R, R, copy_fit_sample, n_shadow=1)
    with pytest.raises(ValueError, match="must be non-empty arrays of rows of the same shape"):
        shadow(T, R, rng.normal(size=(10, 3)), copy_fit_sample)
