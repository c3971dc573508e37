"""REPS.fit on a dask DataFrame: a real LocalCluster, results identical to the in-memory fit."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import redp  # noqa: E402
from redp.datasets import simulate  # noqa: E402
from redp.errors import InputTypeError, SchemaError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def sim():
    table, schema, _ = simulate(3000, rng=31)
    return pd.DataFrame(table), schema


def _model(schema, **kw):
    args = dict(epsilon=3.0, delta=1e-6, schema=schema, rng=7, n_reference=800)
    args.update(kw)
    return redp.REPS(**args)


def _assert_identical(a, b):
    ra, rb = a.privacy_report(), b.privacy_report()
    np.testing.assert_array_equal(ra.weights, rb.weights)
    np.testing.assert_array_equal(ra.scores, rb.scores)
    np.testing.assert_array_equal(ra.per_record_epsilon, rb.per_record_epsilon)
    assert ra.clamped == rb.clamped and ra.tau == rb.tau and ra.epsilon == rb.epsilon
    sa, sb = a.synthesizer_, b.synthesizer_
    assert sa.edges_ == sb.edges_
    for u, v in zip(sa.noisy_one_way_, sb.noisy_one_way_):
        np.testing.assert_array_equal(u, v)
    for k in sa.noisy_two_way_:
        np.testing.assert_array_equal(sa.noisy_two_way_[k], sb.noisy_two_way_[k])
    np.testing.assert_array_equal(a.scorer_.reference_, b.scorer_.reference_)
    xa, xb = a.sample(500), b.sample(500)
    assert isinstance(xa, pd.DataFrame)
    pd.testing.assert_frame_equal(xa, xb)


@pytest.mark.parametrize("weighting", ["inverse", "random"])
def test_dask_fit_identical_to_in_memory(client, sim, weighting):
    df, schema = sim
    df = df.copy()
    df.loc[5, "x0"] = 1e6  # clamped: the curator's report must agree too
    ddf = dd.from_pandas(df, npartitions=4)
    a = _model(schema, weighting=weighting).fit(ddf)
    assert a.fit_chunks_ == 4
    b = _model(schema, weighting=weighting).fit(df)
    _assert_identical(a, b)
    assert a.privacy_report().clamped["x0"] == 1


def test_dask_uniform_and_no_client(sim):
    """Without a distributed client dask's local scheduler runs the same graph."""
    df, schema = sim
    ddf = dd.from_pandas(df, npartitions=3)
    import dask

    with dask.config.set(scheduler="sync"):
        a = _model(schema, weighting="uniform").fit(ddf)
    b = _model(schema, weighting="uniform").fit(df)
    np.testing.assert_array_equal(a.privacy_report().weights, b.privacy_report().weights)
    for u, v in zip(a.synthesizer_.noisy_one_way_, b.synthesizer_.noisy_one_way_):
        np.testing.assert_array_equal(u, v)


def test_dask_refusals(sim):
    df, schema = sim
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(InputTypeError, match="REPS.fit on a dask DataFrame supports the marginal synthesizer"):
        _model(schema, synthesizer="mixture").fit(ddf)
    with pytest.raises(SchemaError, match=r"the dask DataFrame lacks column\(s\) \['c1'\]"):
        _model(schema).fit(ddf.drop(columns=["c1"]))
