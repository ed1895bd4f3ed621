{#- Fails for each combination of `columns` that occurs on more than one row. -#}
{% test unique_together(model, columns) %}

select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
