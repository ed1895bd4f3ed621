{#- Rows where the column holds one of the forbidden values. -#}
{% test not_in_values(model, column_name, values) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} in ({% for value in values %}{{ sql_string(value) }}{% if not loop.last %}, {% endif %}{% endfor %})

{% endtest %}
