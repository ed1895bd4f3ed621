"""`atomic_write`: a file appears whole or not at all, and a failed write leaves nothing behind."""

from __future__ import annotations

import os

import pytest

from warehouse.atomic_files import atomic_write, atomic_write_text


def test_text_is_written_whole_and_replaces_the_old_file(tmp_path):
    final = tmp_path / "report.json"
    final.write_text("old", encoding="utf-8")
    assert atomic_write_text(final, "new ünïcode") == final
    assert final.read_text(encoding="utf-8") == "new ünïcode"
    assert [path.name for path in tmp_path.iterdir()] == ["report.json"]


def test_a_path_writer_writes_beside_the_final_file_under_a_hidden_name(tmp_path):
    final = tmp_path / "pred_20201001.csv"
    with atomic_write(final) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".") and temporary.suffix == ".partial"
        temporary.write_text("SK_ID_CURR\n1\n", encoding="utf-8")
        assert not final.exists(), "nothing under the final name before the block ends"
        assert not list(tmp_path.glob("pred_*.csv")), "a reader's pattern never matches the unfinished file"
    assert final.read_text(encoding="utf-8") == "SK_ID_CURR\n1\n"
    assert [path.name for path in tmp_path.iterdir()] == [final.name]


def test_an_error_leaves_the_old_file_untouched_and_no_temporary_file(tmp_path):
    final = tmp_path / "model.txt"
    final.write_text("the complete old model", encoding="utf-8")
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_write(final) as temporary:
            temporary.write_text("half a mod", encoding="utf-8")
            raise RuntimeError("writer failed")
    assert final.read_text(encoding="utf-8") == "the complete old model"
    assert [path.name for path in tmp_path.iterdir()] == ["model.txt"]


def test_an_error_before_anything_was_written_creates_no_file(tmp_path):
    final = tmp_path / "data.parquet"
    with pytest.raises(ValueError):
        with atomic_write(final):
            raise ValueError("no rows")
    assert list(tmp_path.iterdir()) == []


def test_the_file_and_its_folder_are_flushed_before_and_after_the_rename(tmp_path, monkeypatch):
    final = tmp_path / "card.json"
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda descriptor: events.append("fsync") or real_fsync(descriptor))
    monkeypatch.setattr(os, "replace", lambda source, target: events.append("replace") or real_replace(source, target))
    atomic_write_text(final, "{}")
    assert events == ["fsync", "replace", "fsync"]


def test_two_writes_of_one_file_use_different_temporary_files(tmp_path):
    final = tmp_path / "credit_bi.duckdb"
    with atomic_write(final) as first, atomic_write(final) as second:
        assert first != second
        first.write_text("first", encoding="utf-8")
        second.write_text("second", encoding="utf-8")
    assert final.read_text(encoding="utf-8") == "first", "the last rename wins, each file whole"
