"""The warehouse on Apache Spark: the `spark` engine (`assets/engines.py`), for a lender one machine cannot hold.

Needs the `spark` extra (`pip install -e '.[spark]'`: pyspark, dbt-spark) and a Java runtime.
Only this package imports pyspark, and only when the spark engine is chosen.
"""
