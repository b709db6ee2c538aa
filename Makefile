# acula-zoo: `make demo` runs the main job on the embedded demo benchmark, `make test` runs the tests.
# Both create .venv with the pinned dependencies when it is missing or when setup.cfg changed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)

.PHONY: venv demo test test-slow lint bench clean-venv compare-opera reproduce-acula

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

demo: venv
	$(PY) evaluate.py --demo

test: venv
	$(PY) -m pytest -q

test-slow: venv
	$(PY) -m pytest -q -m slow

lint: venv
	$(VENV)/bin/ruff check .

# Benchmarks (tests/perf, not part of `make test`): bench/report.{json,md}. The default run measures tiny configs;
# ACULA_BENCH_OFFICIAL=1 adds the official-size 1 h recordings (about 25 min more).
bench: venv
	$(PY) -m pytest -q -s -o addopts="-p no:cacheprovider" tests/perf

clean-venv:
	rm -rf $(VENV)

# Our OPERA embeddings against upstream's extract_opera_feature at official size (needs an OPERA checkout and a
# Python environment where OPERA's code imports; see tests/fixtures/opera/README.md). Not part of `make test`.
compare-opera: venv
	$(PY) tests/upstream/compare_opera_embeddings.py --opera-root $(OPERA_ROOT) --upstream-python $(UPSTREAM_PYTHON)

# AcuLa's recipe end to end (align/reproduce_acula.py): align OPERA-GT with the acula recipe (MedGemma-4b-pt teacher,
# a local copy: `hf download google/medgemma-4b-pt`), then score base vs aligned on OPERA's and the cardiac tasks:
#   make reproduce-acula DATA_ROOT=/data WEIGHTS=encoder-operaGT.ckpt TEACHER=/models/medgemma-4b-pt \
#        [OPERA_ROOT=~/OPERA] [DEVICE=cuda] [OUT=runs/reproduce-acula]
# DRY_RUN=1: the same steps with tiny random models on two demo tasks, CPU, under a minute.
reproduce-acula: venv
	$(PY) -m align.reproduce_acula $(if $(DRY_RUN),--dry-run,--data-root "$(DATA_ROOT)" --weights "$(WEIGHTS)" \
		--teacher "$(TEACHER)") $(if $(OPERA_ROOT),--opera-root "$(OPERA_ROOT)") $(if $(DEVICE),--device $(DEVICE)) \
		$(if $(OUT),--out "$(OUT)")
