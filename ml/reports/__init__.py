"""Reports: one small HTML toolkit and the two pages drawn with it, a model's and a month's."""
