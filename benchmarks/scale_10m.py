"""Scale run: REPS (marginal synthesizer) fit + sample on a 10^7 x 20 table, time and peak memory per stage.

The table is generated chunk by chunk into a ``.npy`` under ``--dir`` (default
/tmp/redp_scale; never committed): 10 continuous columns (public bounds
[-6, 6], 16 bins) driven by a shared latent factor, with 1% injected
outliers, and 10 categorical columns with 2..20 integer levels that depend on
the same factor. ``REPS.fit`` reads the file in chunks (out-of-core: the file
is never loaded whole), then ``sample`` draws as many rows as the input.

Memory is measured by a thread that samples ``VmRSS`` of ``/proc/self/status``
every 10 ms and keeps the maximum per stage (stages reported by
``REPS.fit(progress=...)``), plus the process-wide ``VmHWM`` and
``ru_maxrss`` at the end. Times are wall-clock per stage, summed over chunks.

Usage (on a quiet machine; the run prints a Markdown table)::

    python benchmarks/scale_10m.py --rows 10000000            # the target run
    python benchmarks/scale_10m.py --rows 1000000 --json out.json

The first call of a fresh checkout also compiles (and caches) the Numba
kernels; run a small ``--rows 100000`` first to keep that out of the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import warnings

import numpy as np

N_CONT = 10
CAT_LEVELS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20)


def make_schema():
    import redp

    cols = {f"x{j}": redp.Continuous(-6.0, 6.0, bins=16) for j in range(N_CONT)}
    cols.update({f"c{j}": redp.Categorical(list(range(k))) for j, k in enumerate(CAT_LEVELS)})
    return redp.Schema(cols)


def generate(path: str, rows: int, seed: int = 0, chunk: int = 1 << 20) -> None:
    """Write the synthetic table to ``path`` (.npy, float64, columns in schema order), chunk-wise."""
    d = N_CONT + len(CAT_LEVELS)
    mm = np.lib.format.open_memmap(path + ".tmp", mode="w+", dtype=np.float64, shape=(rows, d))
    g = np.random.default_rng(seed)
    load = np.linspace(0.3, 0.9, N_CONT)
    for lo in range(0, rows, chunk):
        m = min(chunk, rows - lo)
        z = g.standard_normal(m)
        out = np.empty((m, d))
        out[:, :N_CONT] = z[:, None] * load + g.standard_normal((m, N_CONT)) * np.sqrt(1 - load ** 2)
        outl = g.random(m) < 0.01
        out[outl, :N_CONT] += g.choice([-4.0, 4.0], size=(int(outl.sum()), N_CONT))
        for j, k in enumerate(CAT_LEVELS):
            u = 1 / (1 + np.exp(-(z * (0.5 + 0.1 * j) + g.logistic(size=m) * 0.7)))
            out[:, N_CONT + j] = np.minimum((u * k).astype(np.int64), k - 1)
        mm[lo:lo + m] = out
        mm.flush()
    del mm
    os.replace(path + ".tmp", path)


class RssSampler(threading.Thread):
    """Max VmRSS per stage, sampled every ``interval`` seconds."""

    def __init__(self, interval=0.01):
        super().__init__(daemon=True)
        self.interval, self.stage, self.peaks, self._halt = interval, "start", {}, threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def set_stage(self, stage):
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), self.rss())
        self.stage = stage

    def run(self):
        while not self._halt.is_set():
            r = self.rss()
            if r > self.peaks.get(self.stage, 0):
                self.peaks[self.stage] = r
            time.sleep(self.interval)

    def stop(self):
        self.set_stage("end")
        self._halt.set()
        self.join()


def hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/tmp/redp_scale")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--delta", type=float, default=1e-9)
    ap.add_argument("--chunk-rows", type=int, default=None)
    ap.add_argument("--sample-rows", type=int, default=None, help="default: as many as the input")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import redp
    from redp.errors import InsecureRandomnessWarning

    warnings.simplefilter("ignore", InsecureRandomnessWarning)  # seeded: a benchmark, not a release
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"table_{args.rows}.npy")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    schema = make_schema()
    rss0 = RssSampler.rss()
    sampler = RssSampler()
    sampler.start()
    model = redp.REPS(epsilon=args.epsilon, delta=args.delta, schema=schema, rng=0)
    t0 = time.perf_counter()
    model.fit(path, chunk_rows=args.chunk_rows, progress=sampler.set_stage)
    t_fit = time.perf_counter() - t0
    sampler.set_stage("sampling")
    n_out = args.sample_rows or args.rows
    t1 = time.perf_counter()
    synthetic = model.sample(n_out)
    t_sample = time.perf_counter() - t1
    sampler.stop()
    assert synthetic.shape == (n_out, len(schema))
    del synthetic

    timings = dict(model.fit_timings_)
    timings["sampling"] = t_sample
    rep = model.privacy_report()
    rows = []
    for stage, t in timings.items():
        rows.append((stage, t, sampler.peaks.get(stage, 0)))
    result = {
        "rows": args.rows, "columns": len(schema), "sample_rows": n_out, "chunks": model.fit_chunks_,
        "fit_s": t_fit, "sample_s": t_sample, "total_s": t_fit + t_sample,
        "peak_rss_bytes": hwm(), "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_before_fit_bytes": rss0, "stages": [{"stage": s, "seconds": t, "peak_rss_bytes": m} for s, t, m in rows],
        "epsilon": rep.epsilon, "edges": model.synthesizer_.edges_, "cpu_count": os.cpu_count(),
    }
    gib = 2 ** 30
    print(f"\nREPS marginal, {args.rows:,} rows x {len(schema)} columns -> {n_out:,} synthetic rows, "
          f"{model.fit_chunks_} chunks, {os.cpu_count()} cores\n")
    print("| stage | time (s) | peak RSS in stage (GiB) |")
    print("| --- | ---: | ---: |")
    for s, t, m in rows:
        print(f"| {s} | {t:.1f} | {m / gib:.2f} |")
    print(f"| **fit + sample** | **{t_fit + t_sample:.1f}** | **{hwm() / gib:.2f}** (VmHWM) |")
    print(f"\nRSS before fit: {rss0 / gib:.2f} GiB (interpreter, numpy, numba, faiss imports)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
