"""The benchmark: a national-sized data set (build.py), every page type timed in-process (pages.py) and over HTTP
against gunicorn (overhttp.py), and docs/performance.md written from the figures (report.py).

    .venv/bin/python -m bench [--scale national|modest|tiny] [--repeat N] [--no-http]

See bench/README.md. Speed is measured here, never asserted by a test: tests/test_bench.py only checks that the
benchmark runs and reports every page.
"""
