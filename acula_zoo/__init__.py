"""acula-zoo's command line (`acula-zoo`, acula_zoo/cli.py) and the evaluation driver behind it (acula_zoo/evaluate.py).

The library itself lives in the packages adapters (encoders), align (LoRA alignment), benchmark_tasks (tasks, probes,
records, leaderboard) and plugin (host benchmarks).
"""
