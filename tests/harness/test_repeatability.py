"""The run-to-run comparison behind the repeatability figure, on fixed data."""

from __future__ import annotations

import json

from experiments.harness.repeatability import compare_dirs, main


def write(directory, medians):
    directory.mkdir()
    cases = [{"id": cid, "status": "ok" if m is not None else "failed", "median": m} for cid, m in medians.items()]
    (directory / "exp.json").write_text(json.dumps({"cases": cases}))


def test_share_within_tolerance(tmp_path, capsys):
    write(tmp_path / "a", {"x": 1.0, "y": 2.0, "z": 10.0, "f": None})
    write(tmp_path / "b", {"x": 1.05, "y": 2.5, "z": 10.0, "f": 3.0})
    [row] = compare_dirs(tmp_path / "a", tmp_path / "b", 0.10)
    assert (row.compared, row.within) == (3, 2)  # the failed case is not compared
    assert row.worst[0][1] == "y"
    assert main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "2/3" in capsys.readouterr().out
