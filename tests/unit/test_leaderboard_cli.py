"""`evaluate.py --leaderboard DIR [--out OUT]`, the per-run config files, the HTML page and the figures."""

from __future__ import annotations

import json
import re
import struct

import pytest

import evaluate
from adapters._cli import run_cli
from adapters._errors import UserError
from benchmark_tasks.leaderboard import LeaderboardError, build, write_leaderboard
from benchmark_tasks.leaderboard_html import CSP
from benchmark_tasks.leaderboard_plots import bar_chart
from benchmark_tasks.records import load_records, write_record


def _rec(task, label, mean, **extra):
    return {"schema": 1, "task": task, "task_version": 1, "encoder": "enc", "encoder_label": label,
            "identity_hash": extra.pop("ident", "id0"), "weights_sha256": None, "adapter_sha256": None,
            "metric": "auroc", "protocol": {"probe": "linear"}, "split_fingerprint": "fp", "mean": mean, "std": 0.01,
            "ci95": [mean - 0.05, mean + 0.05], "dataset": "d", "pretrained_on": [], "n_errors": 0,
            "date": "2026-01-01", **extra}


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_no_records_is_a_one_line_user_error(tmp_path, capsys, make):
    folder = make(tmp_path)
    with pytest.raises(LeaderboardError, match="records"):
        evaluate.main(["--leaderboard", str(folder)])
    assert issubclass(LeaderboardError, UserError)
    assert run_cli(evaluate.main, ["--leaderboard", str(folder)], prog="evaluate.py") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evaluate.py: error: ") and str(folder) in err
    assert not list(tmp_path.glob("leaderboard*"))
    with pytest.raises(LeaderboardError):
        write_leaderboard(tmp_path, [])


def test_leaderboard_goes_where_out_says_and_defaults_to_the_records_folder(tmp_path, capsys):
    write_record(tmp_path / "run", _rec("T1", "a", 0.7))
    assert evaluate.main(["--leaderboard", str(tmp_path / "run"), "--out", str(tmp_path / "site")]) == 0
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["leaderboard.csv", "leaderboard.html",
                                                                    "leaderboard.md", "leaderboard.png"]
    assert not list((tmp_path / "run").glob("leaderboard*"))
    assert evaluate.main(["--leaderboard", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "leaderboard.html").is_file()
    assert "| a | linear |" in capsys.readouterr().out


def test_every_run_writes_its_own_config_and_config_json_is_the_latest(tmp_path):
    first = evaluate.write_run_config(tmp_path, {"encoders": ["a"]})
    second = evaluate.write_run_config(tmp_path, {"encoders": ["b"]})
    assert first != second and first.parent == second.parent == tmp_path / "configs"
    assert re.fullmatch(r"config-\d{8}T\d{6}\.\d{6}Z-\d+(-\d+)?\.json", second.name)
    assert json.loads(first.read_text())["encoders"] == ["a"]
    latest = json.loads((tmp_path / "config.json").read_text())
    assert latest["encoders"] == ["b"] and latest["config_file"] == str(second)


def test_html_is_self_contained_escaped_and_sortable(tmp_path):
    write_record(tmp_path, _rec("T7", "<script>alert(1)</script> & \"q\"", 0.7, weights_sha256="f" * 64,
                                dataset="icbhi", pretrained_on=["ICBHI"], n_errors=2))
    write_record(tmp_path, _rec("T7", "b+aligned", 0.8, ident="id1", adapter_sha256="a" * 64,
                                alignment={"test_items_used": 5}))
    html = write_leaderboard(tmp_path, load_records(tmp_path), n_boot=20)["html"].read_text()
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;" in html
    assert not re.search(r"(src|href)=\"(?!data:|#)", html)   # nothing but data: URLs and in-page anchors
    assert not re.search(r"https?://|//[a-z]", html.split("<script>")[1])   # and no URL in the script
    assert html.count('<img alt="') == 1 and 'src="data:image/png;base64,iVBOR' in html
    assert 'class="sortable" id="leaderboard"' in html and "addEventListener(\"click\"" in html
    assert '<sup><a href="#fn-dagger">†</a></sup> (2 skipped)</td>' in html
    assert '<sup><a href="#fn-ddagger">‡</a></sup></td>' in html
    assert '<li id="fn-dagger">' in html and '<li id="fn-ddagger">' in html
    assert '<td class="num" data-v="0.7">0.700 ± 0.010 [0.650, 0.750]' in html


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_bar_chart_grows_with_encoders_and_tasks():
    small = [_rec(f"T{t}", f"enc-{e}", 0.6, ident=f"i{e}") for e in range(2) for t in range(1, 3)]
    big = [_rec(f"T{t}", f"enc-{e}", 0.2 + 0.07 * t, ident=f"i{e}") for e in range(10) for t in range(1, 11)]
    w_small, _ = _png_size(bar_chart(build(small).board))
    w_big, h_big = _png_size(bar_chart(build(big).board))
    assert w_big > 2 * w_small and w_big > 1500 and h_big > 400
