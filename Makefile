# Two commands do all the set-up: `make demo` and `make test`.
PY := .venv/bin/python
STAMP := .venv/.setup-done

.PHONY: setup demo test bench clean
setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(PY) -m strokeparam paint "giant panda" --size 224 --out out/giant_panda.png --gif --svg --mypaint

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) bench/mypaint_baseline.py

clean:
	rm -rf .venv out
