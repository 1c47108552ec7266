# make test: set up .venv (if needed) and run the whole test suite.
# make demo: set up .venv, train the default model (bigan on the bundled digits), invert, evaluate.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DEMO := outputs/demo

.PHONY: test demo venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat  # compat: Hydra finds hydra_plugins/ (hydra/launcher=fused)
	touch $@

test: venv
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/latentcli train hydra.run.dir=$(DEMO)/train
	$(BIN)/latentcli invert ckpt=$(DEMO)/train/checkpoints/last.ckpt inference=encoder hydra.run.dir=$(DEMO)/invert_encoder
	$(BIN)/latentcli invert ckpt=$(DEMO)/train/checkpoints/last.ckpt inference=optimize hydra.run.dir=$(DEMO)/invert_optimize
	$(BIN)/latentcli evaluate ckpt=$(DEMO)/train/checkpoints/last.ckpt hydra.run.dir=$(DEMO)/evaluate
	@echo "demo outputs in $(DEMO)/: train/samples/, invert_*/reconstructions.png, evaluate/metrics.json"

clean:
	rm -rf $(DEMO) build dist *.egg-info
