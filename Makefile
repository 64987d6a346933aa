# Two commands do everything on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JB     := $(VENV)/bin/jupyter-book
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with book/nbval-sanitize.cfg

.PHONY: setup book test unit nbval reproduce-check build browser chromium pdf notebooks install-cells data gpu-check bench clean
.PHONY: pairs lint

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## make book: set up, then build the HTML book (from the outputs stored in the notebooks) into _build/html
book: setup install-cells build

## the repository URL is set once, in _config.yml (repository.url); this writes it into the Colab install cells
## (and the chapters' text files, book/text, follow)
install-cells: setup
	$(PY) tools/notebooks.py install-cells book/0*.ipynb
	$(PY) tools/notebook_pairs.py sync --to text

build:
	$(JB) build -W -n --keep-going .

## make test: set up, then unit tests, nbval on every notebook, the book build, and the browser checks
test: setup lint unit nbval reproduce-check build browser

## make lint: wnlib's lines at 88 columns and its formatting ([tool.ruff] in pyproject.toml); fix with
## `ruff format wnlib` (then shorten the comments and strings it reports)
lint: setup
	$(PY) -m ruff check wnlib
	$(PY) -m ruff format --check wnlib

## make pairs: notebook -> text file: rewrite each book/text/NAME.md from book/NAME.ipynb (the other direction,
## after editing a text file: python tools/notebook_pairs.py sync --to notebook). make unit checks the pairs agree.
pairs: setup
	$(PY) tools/notebook_pairs.py sync --to text

unit:
	$(PY) -m pytest -q tests --ignore=tests/browser; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

# the explorers' background precompute is for readers; executions that check or store outputs run without it
nbval:
	WNLIB_EXPLORER_PRECOMPUTE=0 $(PY) -m pytest -q $(NBVAL) book/; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

## make reproduce-check: re-execute every chapter with another thread count and another base seed; every assert
## in the cells (the book's claims) must hold (tools/reproduce_check.py)
reproduce-check: setup
	$(PY) tools/reproduce_check.py book/*.ipynb

browser: chromium
	$(PY) -m pytest -q tests/browser; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

# headless Chromium for the browser checks: Debian's package (no browser download from anywhere else)
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

## make pdf: the built book as one PDF, _build/pdf/book.pdf (pages in table-of-contents order, printed by headless
## Chromium with the book's print styles; offline). Builds the book first if _build/html is missing.
pdf: setup chromium
	@test -f _build/html/index.html || $(MAKE) build
	$(PY) tools/book_pdf.py --html _build/html --out _build/pdf/book.pdf

## make notebooks: re-execute every chapter in place (quick profile) so the stored outputs are fresh
notebooks: setup
	WNLIB_EXPLORER_PRECOMPUTE=0 $(PY) tools/notebooks.py execute book/*.ipynb

bench: setup
	$(PY) -m bench

## make data: Fashion-MNIST from Debian's package (offline); load_dataset("fashion-mnist") then needs no network
data:
	@test -d /usr/share/datasets/fashion-mnist || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
	@echo "Fashion-MNIST: $$(ls /usr/share/datasets/fashion-mnist)"

## make gpu-check: with CUDA, the unit tests on CUDA, one chapter in the full profile, the epoch benchmark's GPU row
gpu-check: setup
	@if ! $(PY) -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then \
		echo "gpu-check: no CUDA device on this machine; nothing to check (exit 0)"; exit 0; fi; \
	set -e; \
	WNLIB_TEST_DEVICE=cuda $(PY) -m pytest -q tests/test_gpu.py; \
	mkdir -p _build/gpu-check && cp book/01_weightnorm.ipynb _build/gpu-check/; \
	WNLIB_PROFILE=full $(PY) tools/notebooks.py execute _build/gpu-check/01_weightnorm.ipynb; \
	$(PY) -m bench --only epoch --out bench/results/gpu.json

clean:
	rm -rf _build .pytest_cache
