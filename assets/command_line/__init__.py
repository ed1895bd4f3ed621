"""The `credit` command line: the top layer, which may use `assets/`, `ml/` and `warehouse/`; nothing imports it."""
