{#- The outcome of each application as known today: the label without a successor (see fct_application_labels). -#}
select
    sk_id_curr,
    target
from {{ ref('fct_application_labels') }}
where superseded_from is null
