"""Ingestion: the raw-file contract, reading and checking a delivered file, quarantine, the load ledger, the loader and the inbox rule."""
