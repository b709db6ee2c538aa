"""`python -m align --dry-run`: what alignment would use and write, without training or paying for calls."""

from align.__main__ import main


def test_dry_run_shows_reports_and_counts_without_training(tmp_path, capsys):
    out = tmp_path / "never-written"
    assert main(["--encoder", "opera-gt", "--tiny", "--tasks", "demo-wheeze-easy", "--out", str(out),
                 "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "training and" in text and "template reports for" in text and "(offline; no calls)" in text
    assert "wheeze" in text.lower()
    assert not (out / "align_config.json").exists()
