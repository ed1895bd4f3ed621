"""Dagster definitions: thin assets over `warehouse/`, the dbt project and `ml/`.

`assets/command_line` is the top layer above them (the `credit` CLI); nothing here imports it.
"""
