"""Dask backend: :meth:`redp.REPS.fit` on a ``dask.dataframe.DataFrame``.

Install with ``pip install 'redp[dask]'``. Nothing changes in the call::

    import dask.dataframe as dd
    from dask.distributed import Client

    client = Client("tcp://scheduler-host:8786")   # or Client(LocalCluster(...)); or no client at all
    ddf = dd.read_parquet("s3://bucket/claims/*.parquet")
    model = redp.REPS(epsilon=1.0, delta=1e-7, schema=schema).fit(ddf)
    synthetic = model.sample(1_000_000)            # a pandas DataFrame, drawn on the client

How it runs. The fit is the same map-reduce as the chunked local fit
(:meth:`redp.REPS.fit`), with Dask partitions as the chunks:

1. every partition is validated against the public schema and turned into
   additive sufficient statistics (weighted 1-way and all candidate 2-way
   counts, exact int64 fixed point, :class:`redp.synth.marginal.MarginalStatistics`);
   the partition statistics are tree-reduced (``split_every`` at a time) and
   only the sum reaches the client;
2. on the client, from the client's generator, stage-1 DP noise is added once
   and the stage-1 synthesizer (tree selection included) is fitted; its
   reference sample (the scorer's ``theta``) and fitted state are broadcast
   to the workers (``client.scatter(..., broadcast=True)`` when a distributed
   client is active);
3. every partition is scored record-locally against the reference sample,
   weighted (``w_i`` depends only on ``s_i`` and public values) and counted
   again with the weights; the stage-2 statistics are tree-reduced, the
   per-record scores and weights come back to the client (the curator's
   privacy report holds them: 16 bytes per record); ``weighting="random"``
   or a callable, whose weights need all the scores, computes the weights on
   the client and sends each partition its slice for a third pass;
4. on the client, stage-2 DP noise is added once, the tree is selected and
   the model post-processed. Sampling runs on the client.

Because the statistics are exact integer sums and scoring is per record, the
noisy statistics, weights and samples are identical, bit for bit, to the
in-memory fit with the same seed, for any partitioning and any cluster.

What grows with the cluster: reading, validation, scoring (the kNN search of
every record against the reference sample, the dominant cost) and counting,
all embarrassingly parallel over partitions. What does not: the DP noise, the
tree selection and post-processing, and the stage-1 fit (one process, sizes
set by the schema, not by n: milliseconds to seconds), the tree reduction
(log of the number of partitions), and the per-record scores and weights
gathered on the client (n float64 each).

The mixture synthesizer (DP-SGD) and the histogram/Gaussian scorers are not
supported on Dask input: their statistics are not additive in this
implementation, and :meth:`redp.REPS.fit` raises
:class:`~redp.errors.InputTypeError` before reading any partition.

Examples
--------
>>> import redp.distributed as rd
>>> rd.DEFAULT_SPLIT_EVERY
8
"""

from __future__ import annotations

import numpy as np

from .errors import SchemaError
from .pipeline import ChunkResult, _add_clamped, process_chunk

__all__ = ["DaskRunner", "DEFAULT_SPLIT_EVERY"]

DEFAULT_SPLIT_EVERY = 8


# -- per-partition tasks (module level: pickled by reference) --------------------

def _part_statistics(df, schema, strict, synth, weights):
    r = process_chunk(df, schema, strict, synth=synth, weights=weights)
    return ChunkResult(r.n_rows, r.clamped, r.stats)


def _part_scores(df, schema, strict, scorer):
    return process_chunk(df, schema, strict, scorer=scorer).scores


def _part_score_weight_statistics(df, schema, strict, scorer, wmap, synth):
    r = process_chunk(df, schema, strict, synth=synth, scorer=scorer, wmap=wmap)
    return ChunkResult(r.n_rows, r.clamped, r.stats), r.scores, r.weights


def _combine(parts):
    """Sum a list of ChunkResults (statistics, rows, clamped counts)."""
    out = ChunkResult(0, {}, None)
    for p in parts:
        out.n_rows += p.n_rows
        _add_clamped(out.clamped, p.clamped)
        out.stats = p.stats if out.stats is None else out.stats + p.stats
    return out


def _tree_reduce(items, split_every):
    from dask import delayed

    level = 0
    while len(items) > 1:
        items = [delayed(_combine)(items[i:i + split_every])
                 for i in range(0, len(items), split_every)]
        level += 1
    return items[0]


def _client():
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


class DaskRunner:
    """Passes of :meth:`redp.REPS.fit` over the partitions of a dask DataFrame.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    schema : redp.Schema
    strict : bool
    split_every : int, default 8
        Fan-in of the tree reduction of partition statistics.
    """

    output_kind = "pandas"

    def __init__(self, ddf, schema, strict, split_every: int = DEFAULT_SPLIT_EVERY):
        try:
            import dask  # noqa: F401
        except ImportError:  # pragma: no cover - the caller had a dask object
            raise ImportError("redp.distributed needs dask: pip install 'redp[dask]'.") from None
        present = [str(c) for c in ddf.columns]
        missing = [n for n in schema.names if n not in present]
        if missing:
            raise SchemaError(
                f"REPS.fit: the dask DataFrame lacks column(s) {missing} required by the schema. Got columns "
                f"{present} instead."
            )
        self.parts = ddf[list(schema.names)].to_delayed()
        self.schema, self.strict, self.split_every = schema, strict, int(split_every)
        self.n_chunks = len(self.parts)
        self.lengths = None
        self.clock = None

    def _broadcast(self, obj):
        """One copy per worker: scatter with a distributed client, else a single graph node."""
        from dask import delayed

        client = _client()
        if client is not None:
            return client.scatter(obj, broadcast=True, hash=False)
        return delayed(obj, pure=False)

    def _check_n(self, n, expected):
        if expected is not None and n != expected:
            raise ValueError(f"REPS.fit: the dask DataFrame changed between passes ({expected} rows, then {n}).")

    def statistics(self, synth, weights, *, stage):
        import dask
        from dask import delayed

        if weights is not None and self.lengths is None:
            raise AssertionError("weights need the partition lengths of a scoring pass")
        with self.clock(stage):
            offsets = None if weights is None else np.concatenate([[0], np.cumsum(self.lengths)])
            tasks = [
                delayed(_part_statistics)(
                    p, self.schema, self.strict, synth,
                    None if weights is None else weights[offsets[i]:offsets[i + 1]])
                for i, p in enumerate(self.parts)
            ]
            (total,) = dask.compute(_tree_reduce(tasks, self.split_every))
        if weights is not None:
            self._check_n(total.n_rows, weights.shape[0])
        return total.stats, total.n_rows, total.clamped

    def scores(self, scorer, n_expected):
        import dask
        from dask import delayed

        with self.clock("scoring"):
            sc = self._broadcast(scorer)
            parts = dask.compute(*[delayed(_part_scores)(p, self.schema, self.strict, sc)
                                   for p in self.parts])
        self.lengths = [len(s) for s in parts]
        out = np.concatenate(parts) if parts else np.zeros(0)
        self._check_n(out.shape[0], n_expected)
        return out

    def score_weight_statistics(self, scorer, wmap, synth, n_expected):
        import dask
        from dask import delayed

        with self.clock("scoring, weighting, stage-2 statistics"):
            sc = self._broadcast(scorer)
            triples = [delayed(_part_score_weight_statistics, nout=3)(
                p, self.schema, self.strict, sc, wmap, synth) for p in self.parts]
            reduced = _tree_reduce([t[0] for t in triples], self.split_every)
            total, scores, weights = dask.compute(reduced, [t[1] for t in triples], [t[2] for t in triples])
        self.lengths = [len(s) for s in scores]
        scores = np.concatenate(scores) if scores else np.zeros(0)
        weights = np.concatenate(weights) if weights else np.zeros(0)
        self._check_n(scores.shape[0], n_expected)
        return total.stats, scores, weights
