"""Offline evaluation and benchmarks (metrics, search/recs/photo eval, scale bench). Never imported at run time: the CLI loads it lazily for its eval and bench commands."""
