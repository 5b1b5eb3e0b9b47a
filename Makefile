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

.PHONY: install demo test test-all test-gpu

install:
	STACK=$(STACK) VENV=$(VENV) bash tools/install_env.sh

# Trains LeMeViT-T Mask R-CNN on the built-in synthetic DOTA patches,
# evaluates and prints the metrics (a rerun replaces the last demo run).
demo: install
	$(PYTHON) tools/train.py configs/det/lemevit_maskrcnn.py --demo --overwrite

test: install
	$(PYTHON) -m pytest -m "not slow and not cuda" $(PYTEST_ARGS)

test-all: install
	$(PYTHON) -m pytest -m "not cuda" $(PYTEST_ARGS)

# The CUDA paths (SDPA kernels, torchvision's CUDA deformable convolution,
# every backbone on the GPU and under CUDA autocast).
test-gpu: install
	@$(PYTHON) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'make test-gpu: torch sees no CUDA device (torch.cuda.is_available() is False, torch ' + torch.__version__ + '); run it on a machine with an NVIDIA GPU and its driver')"
	$(PYTHON) -m pytest -m cuda $(PYTEST_ARGS)
