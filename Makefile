# Two commands do all the set-up: `make demo` and `make test`.
PY := .venv/bin/python
STAMP := .venv/.setup-done

.PHONY: setup demo test test-fast bench clean
setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh strokeparam/mypaint/_strokes.c strokeparam/_over.c strokeparam/painters/_dabs.c
	bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(PY) -m strokeparam paint "giant panda" --size 224 --out out/giant_panda.png --gif --svg --mypaint

test: setup
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 tests

test-fast: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" tests

bench: setup
	$(PY) bench/mypaint_baseline.py

clean:
	rm -rf .venv out
