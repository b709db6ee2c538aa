"""Linear probes on frozen embeddings, OPERA's protocol: one import point for evaluate.py.

Classification (linear_probe; linear_probe_seeds, the same for several seeds at once; logreg_probe) lives in
benchmark_tasks/probe_linear.py, regression (regression_probe, loso_regression) in
benchmark_tasks/probe_regression.py; their docstrings state the protocol and where it departs from upstream OPERA.
"""

from benchmark_tasks._spec import ProbeConfig
from benchmark_tasks.probe_linear import ProbeResult, linear_probe, linear_probe_seeds, logreg_probe
from benchmark_tasks.probe_regression import loso_regression, regression_probe

__all__ = ["ProbeConfig", "ProbeResult", "linear_probe", "linear_probe_seeds", "logreg_probe", "loso_regression",
           "regression_probe"]
