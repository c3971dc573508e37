"""Shared helpers for the asv suite and benchmarks/compare_knn.py."""

import importlib

import numpy as np


def safe_import(name):
    """Return the imported module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def gaussian(n, d, seed=0):
    """iid standard normal points, float32 (full intrinsic dimension)."""
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def clustered(n, d, seed=0, n_clusters=50, intrinsic_dim=4):
    """Gaussian clusters, each spread in a random ``intrinsic_dim``-dimensional
    subspace plus 1% isotropic noise: clustered, low intrinsic dimension."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)) * 5
    labels = rng.integers(n_clusters, size=n)
    out = np.empty((n, d))
    for c in range(n_clusters):
        m = labels == c
        basis = rng.normal(size=(intrinsic_dim, d)) * 0.5
        out[m] = centers[c] + rng.normal(size=(m.sum(), intrinsic_dim)) @ basis
    out += 0.01 * rng.normal(size=(n, d))
    return out.astype(np.float32)


def recall_at_k(found, truth):
    """Mean fraction of the true neighbour indices present in ``found`` (row-wise)."""
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size
