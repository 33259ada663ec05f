"""digest-rag's benchmark: datasets, gold data and runners (``python -m eval``)."""
