"""Side-by-side kNN timings: redp.knn vs faiss.IndexFlatL2 and sklearn, one process.

Self-join, k = 10, float32 Gaussian data, medians of --repeats runs; then the
approximate mode (exact=False) on Gaussian and clustered data at d = 32 with
its recall@10 against the exact result. Prints Markdown tables.

    python benchmarks/compare_knn.py                  # n = 100,000, d in {8, 32, 128}
    python benchmarks/compare_knn.py --n 50000 --repeats 5 --skip numba sklearn

faiss runs with all cores (its OpenMP default) and is given k + 1 neighbours
(the query itself comes back first), sklearn uses NearestNeighbors(algorithm=
"brute").kneighbors() (self excluded), skipped above --sklearn-max-n because it
takes minutes at n = 1e5. Timings include faiss's index construction (a copy).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))

from common import clustered, gaussian, recall_at_k, safe_import  # noqa: E402


from redp.neighbors import knn  # noqa: E402

faiss = safe_import("faiss")
sk = safe_import("sklearn.neighbors")


def median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def faiss_flat(x, k):
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    return index.search(x, k + 1)


def sklearn_brute(x, k):
    return sk.NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x).kneighbors()


def fmt(t):
    return "-" if t is None else f"{t:.3f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sklearn-max-n", type=int, default=20_000)
    p.add_argument("--skip", nargs="*", default=[], choices=["numba", "faiss", "sklearn", "approx"])
    a = p.parse_args(argv)
    n, k, rep = a.n, a.k, a.repeats
    print(f"# kNN self-join, n = {n:,}, k = {k}, float32, {os.cpu_count()} cpus, median of {rep}\n")
    if "numba" not in a.skip:
        knn(gaussian(200, 4), k=3, backend="numba")  # JIT/cache load outside timing
    print("| d | redp cpp s | GFLOP/s eq | redp numba s | faiss flat s | sklearn s "
          "| faiss / cpp | sklearn / cpp | numba / cpp |")
    print("|---|---|---|---|---|---|---|---|---|")
    faiss_at = {}
    for d in a.d:
        x = gaussian(n, d)
        t_cpp, (_, i_cpp) = median_time(lambda: knn(x, k=k, backend="cpp"), rep)
        t_nb = None
        if "numba" not in a.skip:
            t_nb, _ = median_time(lambda: knn(x, k=k, backend="numba"), rep)
        t_f = None
        if faiss is not None and "faiss" not in a.skip:
            t_f, (_, i_f) = median_time(lambda: faiss_flat(x, k), rep)
            faiss_at[d] = t_f
        t_s = None
        if sk is not None and "sklearn" not in a.skip and n <= a.sklearn_max_n:
            t_s, _ = median_time(lambda: sklearn_brute(x, k), max(1, rep))
        gflops = 2.0 * n * n * d / t_cpp / 1e9
        print(f"| {d} | {fmt(t_cpp)} | {gflops:.0f} | {fmt(t_nb)} | {fmt(t_f)} | {fmt(t_s)} "
              f"| {ratio(t_f, t_cpp)} | {ratio(t_s, t_cpp)} | {ratio(t_nb, t_cpp)} |", flush=True)
    if n > a.sklearn_max_n and "sklearn" not in a.skip:
        print(f"\nsklearn skipped: n > --sklearn-max-n = {a.sklearn_max_n}.")
    if "approx" in a.skip:
        return
    d = 32
    print(f"\n## approximate mode (exact=False), d = {d}, n = {n:,}, k = {k}\n")
    print("| data | approx s | recall@10 | exact cpp s | faiss flat s | faiss flat / approx |")
    print("|---|---|---|---|---|---|")
    for name, gen in [("gaussian", gaussian), ("clustered", clustered)]:
        x = gen(n, d)
        t_ex, (_, truth) = median_time(lambda: knn(x, k=k), rep)
        t_ap, (_, found) = median_time(lambda: knn(x, k=k, exact=False), rep)
        t_f = faiss_at.get(d) if name == "gaussian" else None
        if t_f is None and faiss is not None and "faiss" not in a.skip:
            t_f, _ = median_time(lambda: faiss_flat(x, k), rep)
        print(f"| {name} | {fmt(t_ap)} | {recall_at_k(found, truth):.4f} | {fmt(t_ex)} | {fmt(t_f)} "
              f"| {ratio(t_f, t_ap)} |", flush=True)


if __name__ == "__main__":
    main()
