"""`credit serve`: online scoring and the delivery page, one web service over the data directory."""
