"""Tests for redp.neighbors.knn: every backend against the NumPy reference."""

import numpy as np
import pytest

from redp import _ext
from redp._reference import knn_reference
from redp.errors import InputTypeError
from redp.neighbors import knn
import redp.neighbors as neighbors

EXACT_BACKENDS = ["cpp", "numba", "faiss", "reference"]


def assert_knn_equivalent(dist, idx, ref_dist, ref_idx, queries, base, self_join=False):
    """Tie-aware equality (scikit-learn / faiss style).

    Fast backends select with float32 ``|q|^2 + |b|^2 - 2<q, b>``, whose
    rounding error is a few ulps of the squared norms, so squared distances
    within ``tol2 = 16 eps32 (|q|^2 + max |b|^2)`` count as tied. Checked: the
    reported distances are the exact distances of the reported indices
    (float32 tolerance), rows ascending, indices valid, distinct and never the
    query itself in a self-join; squared distances match the reference within
    ``tol2``; every reference neighbour clearly inside the k-th distance is
    present and every other reported point is tied with the k-th distance.
    """
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    assert dist.shape == ref_dist.shape == idx.shape
    assert np.all(np.diff(dist, axis=1) >= 0)
    q = np.asarray(queries, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    assert idx.min() >= 0 and idx.max() < b.shape[0]
    true = np.sqrt(((q[:, None, :] - b[idx]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, true, rtol=1e-6, atol=1e-6)
    eps = float(np.finfo(np.float32).eps)
    tol2 = 16 * eps * ((q**2).sum(1) + (b**2).sum(1).max())
    d2, r2 = dist.astype(np.float64) ** 2, ref_dist.astype(np.float64) ** 2
    assert np.all(np.abs(d2 - r2) <= tol2[:, None]), "distances differ beyond float32 tolerance"
    for r in range(idx.shape[0]):
        assert len(set(idx[r])) == idx.shape[1]
        if self_join:
            assert r not in set(idx[r])
        kth2 = r2[r, -1]
        surely_in = set(ref_idx[r][r2[r] < kth2 - tol2[r]])
        assert surely_in <= set(idx[r]), f"row {r}: missing {surely_in - set(idx[r])}"
        for j, dj2 in zip(idx[r], d2[r]):
            if j not in surely_in:
                assert abs(dj2 - kth2) <= tol2[r], f"row {r}: {j} is not tied with the k-th"


def _clustered(rng, n, d, n_clusters=5, spread=0.05):
    centers = rng.normal(size=(n_clusters, d)) * 4
    return (centers[rng.integers(n_clusters, size=n)] + spread * rng.normal(size=(n, d))).astype(
        np.float32
    )


def _datasets(rng):
    gauss = rng.normal(size=(300, 7)).astype(np.float32)
    dup = rng.normal(size=(40, 5)).astype(np.float32)[rng.integers(40, size=250)]  # heavy ties
    grid = rng.integers(0, 3, size=(200, 3)).astype(np.float32)  # integer lattice: many equal distances
    return {
        "gaussian": (gauss, None, 10),
        "duplicates": (dup, None, 12),
        "lattice_ties": (grid, None, 9),
        "clustered": (_clustered(rng, 260, 16), None, 10),
        "d1": (rng.normal(size=(150, 1)).astype(np.float32), None, 4),
        "k_n_minus_1": (rng.normal(size=(60, 4)).astype(np.float32), None, 59),
        "single_query": (rng.normal(size=(1, 9)).astype(np.float32), gauss[:, :1].repeat(9, 1), 5),
        "queries_not_in_base": (rng.normal(size=(37, 7)).astype(np.float32) + 0.5, gauss, 10),
        "wide_d": (rng.normal(size=(70, 131)).astype(np.float32), None, 6),
        "k_equals_n_base": (rng.normal(size=(20, 3)).astype(np.float32), gauss[:33, :3], 33),
    }


@pytest.mark.parametrize("backend", EXACT_BACKENDS + ["auto"])
def test_backends_match_reference(backend, rng):
    for name, (q, b, k) in _datasets(rng).items():
        base = q if b is None else b
        ref_d, ref_i = knn_reference(q, base, k, self_join=b is None)
        dist, idx = knn(q, b, k, backend=backend)
        try:
            assert_knn_equivalent(dist, idx, ref_d, ref_i, q, base, self_join=b is None)
        except AssertionError as exc:  # pragma: no cover - message helper
            raise AssertionError(f"dataset {name!r}: {exc}") from exc


def test_tie_helper_can_fail(rng):
    q = rng.normal(size=(50, 4)).astype(np.float32)
    ref_d, ref_i = knn_reference(q, q, 5, self_join=True)
    bad_i = ref_i.copy()
    bad_i[3, 0] = ref_i[3, -1] + 1 if ref_i[3, -1] + 1 not in ref_i[3] else 3
    with pytest.raises(AssertionError):
        assert_knn_equivalent(ref_d, bad_i, ref_d, ref_i, q, q, self_join=True)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_cpp_isa_paths_match_reference(isa, rng):
    order = ["scalar", "avx2", "avx512"]
    if order.index(isa) > order.index(_ext.knn_isa()):
        pytest.skip(f"CPU lacks {isa}")
    for n, d, k in [(131, 1, 3), (97, 13, 10), (64, 40, 63), (45, 70, 8)]:
        x = rng.normal(size=(n, d)).astype(np.float32)
        x[5:15] = x[4]
        out_d = np.empty((n, k), np.float32)
        out_i = np.empty((n, k), np.int64)
        used = _ext.knn_fused(x, x, k, True, 2, 1 << 20, isa, out_d, out_i)
        assert used == isa
        ref_d, ref_i = knn_reference(x, x, k, self_join=True)
        assert_knn_equivalent(out_d, out_i, ref_d, ref_i, x, x, self_join=True)


def test_cpp_rejects_unsupported_isa_name():
    x = np.zeros((4, 2), np.float32)
    out_d, out_i = np.empty((4, 1), np.float32), np.empty((4, 1), np.int64)
    with pytest.raises(ValueError, match="isa must be"):
        _ext.knn_fused(x, x, 1, True, 1, 1 << 20, "sse9", out_d, out_i)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_self_exclusion_keeps_duplicates(backend):
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]], dtype=np.float32)
    dist, idx = knn(x, k=2, backend=backend)
    assert idx[:3].tolist() == [[1, 2], [0, 2], [0, 1]]
    np.testing.assert_array_equal(dist[:3], 0.0)
    assert idx[3].tolist() == [0, 1]
    # base given explicitly: a point finds itself at distance 0 (no exclusion)
    dist, idx = knn(x, x, k=1, backend=backend)
    assert idx[:, 0].tolist() == [0, 0, 0, 3]
    np.testing.assert_array_equal(dist, 0.0)


@pytest.mark.parametrize("backend", ["cpp", "numba", "faiss"])
def test_same_result_for_one_and_two_threads(backend, rng):
    x = _clustered(rng, 700, 12, spread=0.5)
    x[::7] = x[0]
    d1, i1 = knn(x, k=15, backend=backend, n_threads=1)
    d2, i2 = knn(x, k=15, backend=backend, n_threads=2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_small_memory_bound_chunks_and_agrees(backend, rng):
    x = rng.normal(size=(5000, 64)).astype(np.float32)
    q = x[:300] if backend in ("numba", "reference") else x
    ref_d, ref_i = knn_reference(q, x, 11) if q is not x else knn_reference(x, x, 11, self_join=True)
    dist, idx = knn(q, None if q is x else x, 11, backend=backend, max_memory_bytes=1 << 20)
    assert_knn_equivalent(dist, idx, ref_d, ref_i, q, x, self_join=q is x)


def test_dtype_and_layout_contract(rng):
    x64 = rng.normal(size=(80, 5))
    d32, i32 = knn(x64.astype(np.float32), k=3)
    for variant in (x64, np.asfortranarray(x64), x64.astype(np.float32)[:, ::1], list(map(list, x64))):
        d, i = knn(variant, k=3)
        assert d.dtype == np.float32 and i.dtype == np.int64 and d.shape == (80, 3)
        np.testing.assert_array_equal(i, i32)
        np.testing.assert_array_equal(d, d32)
    ints = rng.integers(-5, 5, size=(30, 2))
    d, i = knn(ints, k=2)
    ref_d, ref_i = knn_reference(ints.astype(np.float32), ints.astype(np.float32), 2, self_join=True)
    assert_knn_equivalent(d, i, ref_d, ref_i, ints, ints, self_join=True)


def _recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


def test_approximate_mode_recall_on_clustered_data(rng, monkeypatch):
    x = _clustered(rng, 25_000, 8, n_clusters=40, spread=0.3)
    seen = []
    orig = neighbors._calibrate_nprobe
    monkeypatch.setattr(
        neighbors, "_calibrate_nprobe", lambda *a: seen.append(orig(*a)) or seen[-1]
    )
    dist, idx = knn(x, k=10, exact=False)
    _, truth = knn(x, k=10)
    recall = _recall(idx, truth)
    print(f"approximate recall@10 (IVF, nprobe={seen}) = {recall:.4f}")
    assert seen and seen[0] is not None, "IVF path was not taken"
    assert recall >= 0.93
    assert dist.dtype == np.float32 and np.all(np.diff(dist, axis=1) >= 0)
    assert (idx != np.arange(len(x))[:, None]).all() and idx.min() >= 0


def test_approximate_mode_falls_back_to_exact_when_index_does_not_pay(rng):
    x = rng.normal(size=(500, 6)).astype(np.float32)
    q = rng.normal(size=(20, 6)).astype(np.float32)
    approx = knn(q, x, 5, exact=False)
    exact = knn(q, x, 5)
    np.testing.assert_array_equal(approx[1], exact[1])


def _x():
    return np.zeros((5, 3), dtype=np.float32)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(queries=np.array([[0.0, np.nan]])), ValueError,
         r"The 'queries' parameter of knn must contain only finite values \(after conversion to "
         r"float32\)\. Got nan at row 0, column 1 instead\."),
        (dict(queries=_x(), base=np.array([[0.0, 1.0, np.inf]])), ValueError,
         r"'base' parameter of knn must contain only finite values .*Got inf at row 0, column 2"),
        (dict(queries=np.array([[1e300, 0.0], [0.0, 0.0]])), ValueError,
         r"only finite values \(after conversion to float32\)\. Got 1e\+300 at row 0, column 0"),
        (dict(queries=np.array([[1e19, 0.0], [0.0, 0.0]])), ValueError,
         r"must have absolute values <= .* so that squared distances fit in float32\. Got 1e\+19"),
        (dict(queries=_x(), k=0), ValueError,
         r"The 'k' parameter of knn must be an int in the range \[1, inf\)\. Got 0 instead\."),
        (dict(queries=_x(), k=2.0), InputTypeError, r"The 'k' parameter of knn must be an int\. Got 2\.0"),
        (dict(queries=_x(), k=5), ValueError,
         r"Expected k <= n_samples - 1 = 4 for a self-join \(base=None excludes each point itself\), "
         r"but k = 5\."),
        (dict(queries=_x(), base=np.zeros((3, 3)), k=4), ValueError,
         r"Expected k <= n_base = 3, but k = 4\."),
        (dict(queries=_x(), base=np.zeros((6, 2))), ValueError,
         r"The 'base' parameter of knn must have as many columns as 'queries' \(3\)\. Got 2 instead\."),
        (dict(queries=np.zeros((0, 3))), ValueError,
         r"'queries' parameter of knn must have at least one row and one column\. Got shape \(0, 3\)"),
        (dict(queries=_x(), base=np.zeros((4, 0))), ValueError,
         r"'base' parameter of knn must have at least one row and one column\. Got shape \(4, 0\)"),
        (dict(queries=np.zeros(5)), ValueError,
         r"'queries' parameter of knn must be a 2-D array of shape \(n_samples, n_features\)\. "
         r"Got an array of shape \(5,\) instead\."),
        (dict(queries=np.zeros((2, 2, 2))), ValueError, r"Got an array of shape \(2, 2, 2\) instead"),
        (dict(queries=np.array([["a", "b"], ["c", "d"]])), InputTypeError,
         r"'queries' parameter of knn must be a numeric \(integer or floating\) array\. Got dtype <U1"),
        (dict(queries=np.ones((3, 2), dtype=bool)), InputTypeError, r"Got dtype bool instead"),
        (dict(queries=np.ones((3, 2), dtype=complex)), InputTypeError, r"Got dtype complex128 instead"),
        (dict(queries=_x(), base=np.ones((3, 3), dtype=object)), InputTypeError,
         r"'base' parameter of knn must be a numeric .* Got dtype object instead"),
        (dict(queries=_x(), backend="gpu"), ValueError,
         r"The 'backend' parameter of knn must be one of 'auto', 'cpp', 'numba', 'faiss', "
         r"'reference'\. Got 'gpu' instead\."),
        (dict(queries=_x(), exact="yes"), InputTypeError,
         r"The 'exact' parameter of knn must be a bool\. Got 'yes' instead\."),
        (dict(queries=_x(), exact=False, backend="cpp"), ValueError,
         r"may be False only with backend 'auto' or 'faiss'; backend 'cpp' is exact"),
        (dict(queries=_x(), n_threads=0), ValueError,
         r"The 'n_threads' parameter of knn must be an int in the range \[1, inf\)\. Got 0 instead\."),
        (dict(queries=_x(), max_memory_bytes=1000), ValueError,
         r"The 'max_memory_bytes' parameter of knn must be an int in the range \[1048576, inf\)\. "
         r"Got 1000 instead\."),
    ],
)
def test_errors_name_the_value(kwargs, error, match):
    with pytest.raises(error, match=match):
        knn(**kwargs)


def test_refine_handles_invalid_candidates():
    q = np.array([[0.0], [1.0]], dtype=np.float32)
    b = np.array([[0.0], [2.0], [0.5]], dtype=np.float32)
    cand = np.array([[-1, 1, 1], [7, 0, -1]], dtype=np.int64)
    out_d, out_i = np.empty((2, 2), np.float32), np.empty((2, 2), np.int64)
    _ext.knn_refine(q, b, cand, 2, False, 1, out_d, out_i)
    assert out_i.tolist() == [[1, -1], [0, -1]]
    assert out_d.tolist() == [[2.0, np.inf], [1.0, np.inf]]
