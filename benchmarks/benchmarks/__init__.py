"""asv benchmark suite for redp (run from benchmarks/: ``asv run --python=same``)."""
