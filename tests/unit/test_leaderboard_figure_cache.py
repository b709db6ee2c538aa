"""Leaderboard PNGs kept by content: the same bytes as drawing, drawn again when the data changes or the entry is
bad."""

from __future__ import annotations

import pytest

from benchmark_tasks.leaderboard import build, write_leaderboard
from benchmark_tasks.leaderboard_figure_cache import cached_figure, figure_key
from benchmark_tasks.leaderboard_plots import bar_chart, bar_chart_data, draw_bar_chart, heat_map, heat_map_data

DATA = {"columns": ["T1"], "rows": [{"name": "a (linear)", "means": [0.7], "lo": [0.05], "hi": [0.04]}]}


def _drawer(calls: list):
    def draw(data):
        calls.append(data)
        return f"png of {data}".encode()

    return draw


def test_a_hit_returns_the_stored_bytes_without_drawing(tmp_path):
    calls = []
    first = cached_figure(tmp_path, "bars", DATA, _drawer(calls))
    second = cached_figure(tmp_path, "bars", DATA, _drawer(calls))
    assert first == second and len(calls) == 1


def test_changed_data_or_kind_is_drawn_again(tmp_path):
    calls = []
    cached_figure(tmp_path, "bars", DATA, _drawer(calls))
    changed = {**DATA, "rows": [{**DATA["rows"][0], "means": [0.71]}]}
    cached_figure(tmp_path, "bars", changed, _drawer(calls))
    cached_figure(tmp_path, "heatmap", DATA, _drawer(calls))
    assert len(calls) == 3
    assert len({figure_key("bars", DATA), figure_key("bars", changed), figure_key("heatmap", DATA)}) == 3


def test_a_user_matplotlibrc_changes_the_key(tmp_path, monkeypatch):
    from benchmark_tasks import leaderboard_figure_cache as cache

    monkeypatch.chdir(tmp_path)
    cache._renderer_version.cache_clear()
    plain = figure_key("bars", DATA)
    (tmp_path / "matplotlibrc").write_text("font.size: 14\n")
    cache._renderer_version.cache_clear()
    styled = figure_key("bars", DATA)
    cache._renderer_version.cache_clear()
    assert plain != styled


def test_a_corrupt_entry_is_reported_and_drawn_again(tmp_path, capsys):
    calls = []
    cached_figure(tmp_path, "bars", DATA, _drawer(calls))
    (entry,) = tmp_path.rglob("*.res")
    entry.write_bytes(entry.read_bytes()[:-5])
    png = cached_figure(tmp_path, "bars", DATA, _drawer(calls))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(calls) == 2 and png == f"png of {DATA}".encode()
    assert len(err) == 1 and "corrupt" in err[0] and str(entry) in err[0]


def test_no_cache_folder_always_draws():
    calls = []
    for _ in range(2):
        cached_figure(None, "bars", DATA, _drawer(calls))
    assert len(calls) == 2


@pytest.fixture
def board_records():
    from test_leaderboard_build import fixture_records

    return fixture_records()


def test_the_plots_draw_what_their_data_says(board_records):
    lb = build(board_records, n_boot=20)
    assert bar_chart(lb.board) == draw_bar_chart(bar_chart_data(lb.board))
    data = bar_chart_data(lb.board)
    assert data["columns"] and all(len(r["means"]) == len(data["columns"]) for r in data["rows"])
    assert heat_map(lb.comparisons)[:4] == b"\x89PNG" and heat_map_data(lb.comparisons)["rows"]


def test_write_leaderboard_gives_the_same_files_cached_or_not(board_records, tmp_path, monkeypatch):
    import benchmark_tasks.leaderboard_plots as plots

    drawn = write_leaderboard(tmp_path / "drawn", board_records, n_boot=20)
    first = write_leaderboard(tmp_path / "first", board_records, n_boot=20, figure_cache=tmp_path / "figures")

    def no_drawing(data):
        raise AssertionError("drawn although cached")

    monkeypatch.setattr(plots, "draw_bar_chart", no_drawing)
    monkeypatch.setattr(plots, "draw_heat_map", no_drawing)
    again = write_leaderboard(tmp_path / "again", board_records, n_boot=20, figure_cache=tmp_path / "figures")
    assert len(list((tmp_path / "figures").rglob("*.res"))) == 2   # bars and heat map
    for kind in ("png", "heatmap", "html", "md"):
        assert drawn[kind].read_bytes() == first[kind].read_bytes() == again[kind].read_bytes(), kind
