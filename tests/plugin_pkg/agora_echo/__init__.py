"""An agora plugin for tests: a model-free backend, a rule and a directory of protocols (see pyproject.toml)."""
