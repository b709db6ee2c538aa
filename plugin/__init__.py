"""Glue for host benchmarks: plugin.opera (feature export in OPERA's layout), plugin.evar (EVAR wrapper)."""
