"""acula-zoo benchmark: typed task specs, dataset readers, the demo benchmark, probes and results."""

from benchmark_tasks._registry import (
    DataContext,
    all_tasks,
    get_task,
    load_items,
    register_dataset,
    select_tasks,
)
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec, split_fingerprint

__all__ = ["DataContext", "Item", "ProbeConfig", "TaskSpec", "all_tasks", "get_task", "load_items",
           "register_dataset", "select_tasks", "split_fingerprint"]
