# Two commands for a fresh machine (see README.md):
#   make demo   install, then plan a prompt and render it with the embedded default
#   make test   install with test tools, then run the test suite
PROMPT ?= The red circle moves right, then the blue square jumps.
OUT ?= outputs/demo

.PHONY: demo test lint docs bench

.venv/.installed: pyproject.toml constraints.txt scripts/install.sh
	bash scripts/install.sh dev
	touch $@

demo: .venv/.installed
	.venv/bin/dysen-vdm generate "$(PROMPT)" --out $(OUT) --overwrite

test: .venv/.installed
	.venv/bin/python -m pytest -q -p no:cacheprovider

lint: .venv/.installed
	.venv/bin/ruff check .

docs:
	bash scripts/install.sh dev,docs
	.venv/bin/mkdocs build --strict
