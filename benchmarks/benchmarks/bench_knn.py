"""asv benchmarks for redp.neighbors.knn (self-join, k = 10) and its peers.

Inputs are built in setup() so only the search is timed. Peers (faiss, sklearn)
are skipped when not installed. Recall of the approximate mode is tracked
against the exact kernel on Gaussian and clustered data.
"""


try:
    from .common import clustered, gaussian, recall_at_k, safe_import
except ImportError:  # run as a plain module
    from common import clustered, gaussian, recall_at_k, safe_import

neighbors = safe_import("redp.neighbors")
faiss = safe_import("faiss")
sklearn_neighbors = safe_import("sklearn.neighbors")

K = 10


class KnnExact:
    """Exact self-join with redp's default (auto -> fused C++ kernel)."""

    params = ([10_000, 100_000], [8, 32, 128])
    param_names = ["n", "d"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, n, d):
        if neighbors is None:
            raise NotImplementedError("redp not importable")
        self.x = gaussian(n, d)

    def time_knn(self, n, d):
        neighbors.knn(self.x, k=K)

    def peakmem_knn(self, n, d):
        neighbors.knn(self.x, k=K)


class KnnNumba:
    """Exact self-join, Numba backend (n = 1e4 only: the C++ kernel is the default)."""

    params = ([10_000], [8, 32, 128])
    param_names = ["n", "d"]
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, n, d):
        if neighbors is None:
            raise NotImplementedError("redp not importable")
        self.x = gaussian(n, d)
        neighbors.knn(self.x[:100], k=K, backend="numba")  # JIT / cache load outside timing

    def time_knn_numba(self, n, d):
        neighbors.knn(self.x, k=K, backend="numba")


class FaissFlat:
    """Peer: faiss.IndexFlatL2 called directly (k + 1 for the self-join)."""

    params = ([10_000, 100_000], [8, 32, 128])
    param_names = ["n", "d"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, n, d):
        if faiss is None:
            raise NotImplementedError("faiss not installed")
        self.x = gaussian(n, d)

    def time_faiss_flat(self, n, d):
        index = faiss.IndexFlatL2(d)
        index.add(self.x)
        index.search(self.x, K + 1)

    def peakmem_faiss_flat(self, n, d):
        index = faiss.IndexFlatL2(d)
        index.add(self.x)
        index.search(self.x, K + 1)


class SklearnBrute:
    """Peer: sklearn NearestNeighbors(algorithm='brute'), n = 1e4 only (slow at 1e5)."""

    params = ([10_000], [8, 32, 128])
    param_names = ["n", "d"]
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, n, d):
        if sklearn_neighbors is None:
            raise NotImplementedError("scikit-learn not installed")
        self.x = gaussian(n, d)

    def time_sklearn_brute(self, n, d):
        nn = sklearn_neighbors.NearestNeighbors(n_neighbors=K, algorithm="brute").fit(self.x)
        nn.kneighbors()


class KnnApprox:
    """Approximate mode (exact=False): time and recall@10 vs the exact kernel, d = 32."""

    params = ([100_000], ["gaussian", "clustered"])
    param_names = ["n", "data"]
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self, n, data):
        if neighbors is None:
            raise NotImplementedError("redp not importable")
        self.x = (gaussian if data == "gaussian" else clustered)(n, 32)

    def time_knn_approx(self, n, data):
        neighbors.knn(self.x, k=K, exact=False)

    def peakmem_knn_approx(self, n, data):
        neighbors.knn(self.x, k=K, exact=False)

    def track_recall(self, n, data):
        _, approx = neighbors.knn(self.x, k=K, exact=False)
        _, exact = neighbors.knn(self.x, k=K)
        return recall_at_k(approx, exact)

    track_recall.unit = "recall@10"
