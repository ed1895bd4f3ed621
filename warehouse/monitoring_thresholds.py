"""The lines the monitoring warnings are drawn at, shared by the asset checks and `credit status`."""

PSI_WARNING = 0.25  # above: the population has shifted against the training window
APPROVAL_RATIO_WARNING = 0.8  # below: the four-fifths rule of adverse impact
AUC_DROP_WARNING = 0.05  # realised AUC this far under the validation AUC
# A group of a handful of applications (the source's XNA gender) says nothing about treatment.
MIN_GROUP_APPLICATIONS = 30
