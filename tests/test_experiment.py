import csv

import numpy as np
import pytest

from redp.audit.experiment import _split, run_experiment, summarize, write_outputs


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_runs_are_written_and_resumed(tmp_path):
    kw = dict(epsilons=[10.0], seeds=2, arms=["uniform", "reps"], out_dir=tmp_path, n=800, progress=False)
    rows = run_experiment("simulated", **kw)
    assert len(rows) == 4 and len(_rows(tmp_path / "runs.csv")) == 4
    again = run_experiment("simulated", **kw)  # everything done: nothing recomputed
    assert len(again) == 4 and len(_rows(tmp_path / "runs.csv")) == 4
    more = run_experiment("simulated", **{**kw, "seeds": 3})
    assert len(more) == 6 and {int(r["seed"]) for r in _rows(tmp_path / "runs.csv")} == {0, 1, 2}
    for r in _rows(tmp_path / "runs.csv"):
        assert 0.0 <= float(r["auc_dcr"]) <= 1.0
        assert float(r["epsilon_global"]) <= 10.0 + 1e-9
        if r["arm"] == "uniform":
            assert float(r["mean_weight_top"]) == 1.0


def test_arms_share_split_and_seeds(tmp_path):
    rows = run_experiment("simulated", epsilons=[5.0], seeds=1, arms=["reps", "random"], out_dir=tmp_path, n=800,
                          progress=False)
    reps, rand = rows
    # random permutes REPS' weights: same multiset, so the same mean weight overall but not in the top decile
    assert float(reps["mean_weight_top"]) < float(rand["mean_weight_top"])


def test_split_is_disjoint_and_seeded():
    a = _split(1000, 3)
    b = _split(1000, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    allidx = np.concatenate(a)
    assert len(np.unique(allidx)) == 1000
    assert [len(x) for x in a] == [400, 400, 200]


def test_summary_has_paired_differences(tmp_path):
    rows = run_experiment("simulated", epsilons=[10.0], seeds=3, arms=["uniform", "reps", "random"], out_dir=tmp_path,
                          n=800, progress=False)
    text = summarize(rows)
    assert "reps - uniform" in text and "random - uniform" in text
    paths = write_outputs(rows, tmp_path)
    assert paths[0].endswith("summary.md")


def test_unknown_arm(tmp_path):
    with pytest.raises(ValueError, match="Unknown arm 'best'"):
        run_experiment("simulated", arms=["best"], out_dir=tmp_path, progress=False)
