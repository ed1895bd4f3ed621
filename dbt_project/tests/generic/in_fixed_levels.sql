{#- Values of a categorical column never seen before: not null, not one of its fixed levels
    (`categorical_levels()`) and not one of its null markers (`null_markers()`), one row per
    value with the rows that carry it. Meant for raw values, which still hold the markers and
    the Y/N flags. A new value is scored through `<column>__unseen`, so this test warns. -#}
{% test in_fixed_levels(model, column_name) %}

    {{ config(severity='warn') }}

select
    {{ column_name }} as unseen_value,
    count(*) as applications
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in ({{ known_raw_values(column_name) }})
group by {{ column_name }}

{% endtest %}
