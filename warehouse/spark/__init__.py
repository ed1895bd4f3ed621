"""The warehouse on Apache Spark: the `spark` engine (`assets/engines.py`), for a lender one machine cannot hold.

Needs the `spark` extra (`pip install -e '.[spark]'`: pyspark, dbt-spark) and a Java runtime.
Only this package imports pyspark, and only when the spark engine is chosen.
"""

import warnings

# PySpark 4.0 warns, in the driver and in each Python worker, that it does not yet "fully support"
# pandas 3. The parts used here (Arrow to the driver, `mapInPandas`) are checked against DuckDB by
# tests/system/test_spark_month.py: the same rows, the same scores.
PANDAS_WARNING = "PySpark does not yet fully support pandas"
warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
