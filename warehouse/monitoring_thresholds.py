"""The lines the monitoring warnings are drawn at, shared by the asset checks, `credit status` and the month report.

The smallest group the fairness mart judges is a dbt var (`fairness_min_group_applications`),
because the mart itself decides which group is the reference; checks read its `judged` column.
"""

PSI_WARNING = 0.25  # above: the population has shifted against the training window
APPROVAL_RATIO_WARNING = 0.8  # below: the four-fifths rule of adverse impact
AUC_DROP_WARNING = 0.05  # realised AUC this far under the validation AUC
