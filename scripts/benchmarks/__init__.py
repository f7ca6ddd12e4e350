"""The benchmarks behind ``make bench``: one module per benchmark, one set of helpers.

Two suites, each with a thin entry point:

- ``scripts/bench.py`` (:mod:`.rasa_suite`): :mod:`.replies` (the product's Rasa beside stock Rasa) and
  :mod:`.knowledge_search` (exact against HNSW search);
- ``scripts/bench_handoff.py`` (:mod:`.handoff_suite`): :mod:`.routing`, :mod:`.escalation`, :mod:`.relay`
  and :mod:`.idle`.

A benchmark module ends with ``BENCHMARK = Benchmark(...)`` (:mod:`.base`): its command-line flags, ``run``
(measure, return a JSON-able dict), ``lines`` (its part of docs/benchmarks.md), and optionally ``rows``
(its lines in the section's table of targets) and ``chart``. :mod:`.runner` parses the flags, runs the
selected benchmarks, keeps the results in ``build/bench/<suite>.json`` and rewrites the suite's sections of
docs/benchmarks.md. To add one: write the module, then add its ``BENCHMARK`` to a ``Section`` of the suite.

Helpers by subject: :mod:`.stats` (percentiles), :mod:`.procfs` (process figures from ``/proc``),
:mod:`.report` (where the output goes, Markdown sections and tables, charts), :mod:`.profiling` (py-spy),
:mod:`.handoff_service` and :mod:`.baseline_server` (the servers under test), :mod:`.load` (the relay's load
generator), :mod:`.assistants` (the Rasa assistants under test).
"""
