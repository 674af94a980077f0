# Quickstart: `make demo` and `make test` on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing fastlearn and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]' > $(VENV)/install.log 2>&1 \
		|| { tail -n 30 $(VENV)/install.log; exit 1; }
	$(BIN)/python -c "import fastlearn, torch, timm" && touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fastlearn demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[bench]' >> $(VENV)/install.log 2>&1 \
		|| { tail -n 30 $(VENV)/install.log; exit 1; }
	$(BIN)/python bench/data_pipeline.py
	$(BIN)/python bench/compare_fastai.py --quick

clean:
	rm -rf $(VENV) runs build *.egg-info
