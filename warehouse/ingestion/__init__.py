"""Ingestion: the raw-file contract, reading and checking delivered files, quarantine, ledger, loader and inbox rule."""
