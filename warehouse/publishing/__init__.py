"""Publishing: the predictions table, the outbox CSV, the BI copy and notifications."""
