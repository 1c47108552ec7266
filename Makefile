# make test: set up .venv (if needed) and run the whole test suite.
# make demo: set up .venv, train the default model (bigan on the bundled digits), invert, evaluate.
VENV ?= .venv
PYTHON ?= python3
# TORCH_INDEX: an extra package index for torch; on a machine without a GPU,
#   make venv TORCH_INDEX=https://download.pytorch.org/whl/cpu
# installs PyTorch's CPU build (a few hundred MB) instead of the CUDA one (several GB). Empty: PyPI's default.
TORCH_INDEX ?=
PIP_INDEX := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
BIN := $(VENV)/bin
DEMO := outputs/demo

.PHONY: test demo venv clean

venv: $(VENV)/.installed

# editable_mode=compat: Hydra then finds hydra_plugins/ in this tree (hydra/launcher=fused)
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(PIP_INDEX) -e '.[test]' --config-settings editable_mode=compat
	touch $@

# pytest-xdist: one worker per core, each test file on one worker (its module fixtures are made once), one thread
# per worker (tests/conftest.py): on 2 cores 7.5 minutes instead of 12.5 with one process of 2 threads
test: venv
	$(BIN)/python -m pytest -q -n auto --dist loadfile

demo: venv
	$(BIN)/latentcli train hydra.run.dir=$(DEMO)/train
	$(BIN)/latentcli invert ckpt=$(DEMO)/train/checkpoints/last.ckpt inference=encoder hydra.run.dir=$(DEMO)/invert_encoder
	$(BIN)/latentcli invert ckpt=$(DEMO)/train/checkpoints/last.ckpt inference=optimize hydra.run.dir=$(DEMO)/invert_optimize
	$(BIN)/latentcli evaluate ckpt=$(DEMO)/train/checkpoints/last.ckpt hydra.run.dir=$(DEMO)/evaluate
	@echo "demo outputs in $(DEMO)/: train/samples/, invert_*/reconstructions.png, evaluate/metrics.json"

clean:
	rm -rf $(DEMO) build dist *.egg-info
