{#- The latest outcome of each application as known today (the rule of `warehouse/labels.py` with no cut-off date). -#}
select sk_id_curr, target
from {{ ref('fct_application_labels') }}
qualify row_number() over (partition by sk_id_curr order by known_from desc nulls last, label_source desc) = 1
