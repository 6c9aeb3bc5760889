# The two commands of the README:  `make figures`  and  `make test`.
# Both create the virtual environment on first use (Python 3.11; torch/torchvision pinned).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.14.1 torchvision==0.29.1
PLUGIN := plugins/snakemake-executor-plugin-submitit

.PHONY: figures test lint report clean-results

$(VENV)/.installed: pyproject.toml $(PLUGIN)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch first, pinned: an unpinned resolve may pull a multi-GB CUDA build of a newer torch
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e '.[dev]'
	# the SLURM executor plugin (profiles/slurm): Snakemake finds plugins by scanning sys.path,
	# so it needs a compat-mode editable install (a path entry, not setuptools' import hook)
	$(BIN)/pip install --config-settings editable_mode=compat -e $(PLUGIN)
	touch $@

figures: $(VENV)/.installed  ## all figures and tables of the embedded default (CPU, minutes)
	$(BIN)/snakemake --profile profiles/default

test: $(VENV)/.installed  ## unit + integration tests and the style gates
	$(BIN)/pytest

lint: $(VENV)/.installed  ## ruff, snakefmt and snakemake --lint (the gates `make test` runs)
	$(BIN)/pytest -q tests/test_style.py

report: $(VENV)/.installed  ## browsable HTML report of every figure with its caption
	$(BIN)/snakemake --report results/report.zip

clean-results:
	rm -rf results/digits results/figures results/quadratic logs benchmarks .snakemake
