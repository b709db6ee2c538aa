# acula-zoo: `make demo` runs the main job on the embedded demo benchmark, `make test` runs the tests.
# Both create .venv with the pinned dependencies when it is missing or when setup.cfg changed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)

.PHONY: venv demo test test-slow lint bench clean-venv compare-opera reproduce-acula hear-validate

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

# Every registered encoder as a HEAR 2021 module (plugin/hear), checked by the HEAR validator (hearvalidator
# 2021.0.6, the last release). It is installed in a side venv outside the repo, $(HEAR_VENV), created from the
# interpreter of .venv with a .pth file that makes .venv's packages (torch, this project's dependencies) visible;
# only tensorflow-cpu (hearvalidator imports it) and hearvalidator go there. hearvalidator declares
# python_requires <3.9 but its code runs on newer Pythons, hence --ignore-requires-python (and --no-deps: its
# torch is .venv's). Official weights are not downloaded, so each module is validated with `--model ''`, which
# loads the tiny random-weight model (plugin/hear/_module.py). Log: $(HEAR_OUT)/hear_validate.log.
# hear-validator's own entry point, with openSMILE's native library loaded first: loaded after TensorFlow (which
# hearvalidator imports at start), openSMILE aborts with "malloc(): invalid size" (tensorflow-cpu 2.21, opensmile
# 2.6; the order alone decides, measured here).
HEAR_MAIN := import opensmile; from hearvalidator.validate import main; main()
HEAR_VENV ?= $(HOME)/.cache/acula_zoo/hearvenv
HEAR_OUT  ?= runs/hear-validate
hear-validate: venv
	@test -x $(HEAR_VENV)/bin/python || $$($(PY) -c 'import sys; print(sys._base_executable)') -m venv $(HEAR_VENV)
	$(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > \
		"$$($(HEAR_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_acula_zoo_venv.pth"
	$(HEAR_VENV)/bin/python -m pip install -q 'tensorflow-cpu>=2.16,<3'
	$(HEAR_VENV)/bin/python -m pip install -q --no-deps --ignore-requires-python hearvalidator==2021.0.6
	@mkdir -p $(HEAR_OUT)
	@fail=0; : > $(HEAR_OUT)/.hear_validate.log.tmp; \
	for m in $$($(PY) -c 'from plugin.hear import encoder_modules; print(" ".join(encoder_modules()))'); do \
		echo "== plugin.hear.$$m" | tee -a $(HEAR_OUT)/.hear_validate.log.tmp; \
		if PYTHONPATH="$(CURDIR)" TF_CPP_MIN_LOG_LEVEL=2 $(HEAR_VENV)/bin/python -c "$(HEAR_MAIN)" plugin.hear.$$m \
			--model '' --device cpu >> $(HEAR_OUT)/.hear_validate.log.tmp 2>&1; \
		then echo "   ok: Looks good!" | tee -a $(HEAR_OUT)/.hear_validate.log.tmp; \
		else echo "   FAILED (see $(HEAR_OUT)/hear_validate.log)" | tee -a $(HEAR_OUT)/.hear_validate.log.tmp; fail=1; fi; \
	done; mv $(HEAR_OUT)/.hear_validate.log.tmp $(HEAR_OUT)/hear_validate.log; exit $$fail
