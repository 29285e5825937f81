# Two commands do all set-up on a fresh machine (see README.md):
#   make lab    create the environment and open the course in JupyterLab
#   make test   create the environment and run every test (what CI runs)
# Others: make book (the offline HTML book), make bench (notebook timings), make data (shipped
# checkpoints), make sync (jupytext pairs),
# make execute (re-run notebooks in place).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: env lab test test-lib book bench data sync execute browser clean

$(STAMP): requirements.txt requirements-dev.txt constraints-cpu.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt -c constraints-cpu.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

env: $(STAMP)

lab: env
	$(VENV)/bin/jupyter lab --notebook-dir=. --ServerApp.default_url=/lab/tree/chapters \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# The browser test needs Chromium. Installed automatically where we may (root with apt, e.g. CI);
# elsewhere install it yourself, or the browser test is skipped (outside CI only).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "note: chromium not found; the browser test will be skipped"; fi; }

# JOBS workers share the cores: one thread each (OMP_NUM_THREADS, inherited by the notebook kernels), as
# two workers with two threads each on two cores make PyTorch's thread pools spin against each other
# (measured on this project's 2-core machine: a U-Net training step about 30x slower).
test: env browser
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(JOBS) --dist loadfile --nbval-lax \
		--nbval-current-env -p no:cacheprovider tests chapters

test-lib: env
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(JOBS) -p no:cacheprovider tests --ignore=tests/test_book.py

book: env
	$(PY) book/build.py

bench: env
	$(PY) bench/time_notebooks.py

# Rebuild the shipped assets in data/ (the digits classifier behind dl.digits_frechet; about a minute).
data: env
	$(PY) data/make_data.py

# Update each .ipynb from its edited .py, keeping outputs (never `jupytext --to ipynb`: it drops them).
sync: env
	$(VENV)/bin/jupytext --sync chapters/*/*.py

# Re-execute notebooks top to bottom, in place, storing outputs and widget state (for the book).
# All notebooks by default; one with `make execute NB=chapters/01_forward_process/02_noise_schedules.ipynb`.
NB ?= $(shell $(PY) -c "import sys; sys.path.insert(0, 'book'); import manifest; print(' '.join(n.path for n in manifest.notebooks()))")
execute: env
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 \
		--ExecutePreprocessor.store_widget_state=True $(NB)

clean:
	rm -rf book/_build book/_generated .pytest_cache
