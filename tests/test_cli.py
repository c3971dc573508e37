import json

import numpy as np
import pytest

from redp.cli import main
from redp.datasets import simulate
from redp.io import write_csv


@pytest.fixture
def csv_and_schema(tmp_path):
    table, schema, _ = simulate(1500, rng=3)
    data = tmp_path / "data.csv"
    write_csv(data, table, list(schema.names))
    sch = tmp_path / "schema.json"
    sch.write_text(schema.to_json())
    return data, sch, schema


def test_synth_writes_csv_and_report(csv_and_schema, tmp_path, capsys):
    data, sch, schema = csv_and_schema
    out, rep = tmp_path / "syn.csv", tmp_path / "rep.json"
    rc = main(["synth", str(data), "-o", str(out), "--schema", str(sch), "--epsilon", "3", "--delta", "1e-6",
               "--seed", "1", "--report", str(rep), "--n", "300"])
    assert rc == 0
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == list(schema.names) and len(lines) == 301
    report = json.loads(rep.read_text())
    assert report["epsilon"] <= 3.0 and "per_record_epsilon" not in report
    assert "curator" in capsys.readouterr().err


def test_synth_bad_value_names_row_and_column(csv_and_schema, tmp_path, capsys):
    data, sch, _ = csv_and_schema
    lines = data.read_text().splitlines()
    cells = lines[5].split(",")
    cells[0] = "abc"
    lines[5] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "syn.csv"
    rc = main(["synth", str(data), "-o", str(out), "--schema", str(sch), "--epsilon", "3", "--delta", "1e-6"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "'x0'" in err and "row 6" in err and "'abc'" in err
    assert not out.exists()


def test_synth_bad_epsilon_exit_code(csv_and_schema, tmp_path, capsys):
    data, sch, _ = csv_and_schema
    rc = main(["synth", str(data), "-o", str(tmp_path / "o.csv"), "--schema", str(sch), "--epsilon", "-1",
               "--delta", "1e-6"])
    assert rc == 2 and "'epsilon' parameter of REPS" in capsys.readouterr().err


def test_score_and_schema_commands(csv_and_schema, tmp_path, capsys):
    data, sch, _ = csv_and_schema
    scores = tmp_path / "s.csv"
    assert main(["score", str(data), "-o", str(scores), "--schema", str(sch), "--epsilon", "1", "--seed", "2"]) == 0
    vals = np.loadtxt(scores, skiprows=1)
    assert vals.shape == (1500,) and np.all(vals >= 0)
    proposed = tmp_path / "p.json"
    assert main(["schema", str(data), "-o", str(proposed)]) == 0
    assert "NOT" in capsys.readouterr().err
    assert "x0" in proposed.read_text()


def test_demo_runs(capsys):
    assert main(["demo", "--n", "1000"]) == 0
    out = capsys.readouterr().out
    assert "uniform" in out and "REPS" in out and "top decile" in out
