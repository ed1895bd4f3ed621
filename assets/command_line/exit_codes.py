"""How a `credit` command ends when it does not succeed (0)."""

EXIT_FAILED = 1  # a month's run failed, or a published decision no longer matches its model
EXIT_REJECTED = 1  # the file broke the contract; it is in quarantine with its report
EXIT_USAGE = 2  # the command could not run: bad arguments, a missing file, a busy warehouse
