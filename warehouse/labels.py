"""Outcomes as known on a date: the one rule that keeps later outcomes out of earlier months.

`fct_application_labels` can hold several labels for an application (its file's TARGET,
then an outcome file, perhaps a correction). As of month M, the label is the latest one
whose `known_from` is null (known from the start) or on or before M. A null date means
"as known today".
"""

LABELS_AS_OF_SQL = """
select sk_id_curr, target
from marts.fct_application_labels
where coalesce(known_from <= cast(? as date), true)
qualify row_number() over (
    partition by sk_id_curr order by known_from desc nulls last, label_source desc
) = 1
"""
