"""The model side: training sets, tuning, training, scoring. Plain Python, no orchestration imports."""
