"""Raw deliveries of Home-Credit-shaped application files and the DuckDB warehouse they land in."""
