"""Loading the Dagster definitions, and so every step that scores, loads no training or plotting code.

Optuna and LightGBM's training code load in the step that trains, matplotlib where a report is drawn:
a month's run whose model was trained ahead never pays for them, nor does the code server.
"""

from __future__ import annotations

import subprocess
import sys

TRAINING_AND_PLOTTING = {"optuna", "matplotlib", "ml.training", "ml.reports.model_report", "ml.reports.month_report"}

REPORT_MODULES = """
import sys
import assets.definitions
print(*sorted(sys.modules))
"""


def test_the_definitions_load_no_training_or_plotting_code():
    done = subprocess.run([sys.executable, "-c", REPORT_MODULES], capture_output=True, text=True, check=True)
    modules = set(done.stdout.split())
    assert "assets.definitions" in modules and "ml.prediction" in modules
    assert {
        name for name in modules if name in TRAINING_AND_PLOTTING or name.split(".")[0] in TRAINING_AND_PLOTTING
    } == set()
