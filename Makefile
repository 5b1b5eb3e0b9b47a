# sparse_backbones: the two commands of the README are `make demo` and
# `make test`; both install the dependency stack first (idempotent).
# STACK=onedl (default: the maintained OpenMMLab fork, with mmrotate) lives
# in .venv; STACK=openmmlab (the original releases) in .venv-openmmlab.
# The two never share an environment (README, "Dependency stacks").
STACK ?= onedl
ifeq ($(STACK),onedl)
VENV ?= .venv
else
VENV ?= .venv-$(STACK)
endif
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-all

install:
	STACK=$(STACK) VENV=$(VENV) bash tools/install_env.sh

# Trains LeMeViT-T Mask R-CNN on the built-in synthetic DOTA patches,
# evaluates and prints the metrics (a rerun replaces the last demo run).
demo: install
	$(PYTHON) tools/train.py configs/det/lemevit_maskrcnn.py --demo --overwrite

test: install
	$(PYTHON) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)
