"""Dagster definitions: thin assets over `warehouse/`, the dbt project and `ml/`."""
