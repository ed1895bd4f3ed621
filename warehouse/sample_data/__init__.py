"""Sample data: Home-Credit-shaped applications, their levels, the monthly splitter and the drift drill."""
