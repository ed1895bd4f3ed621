{#-
    Values never seen before in a delivered month, per categorical column: not null, not one of
    the column's fixed levels (`categorical_levels()`) and not one of its null markers
    (`null_markers()`). Such a value is scored through `<column>__unseen` (a new flag value as
    null); this table says which values they were and how many applications carry them, for
    the month's notification, `credit status` and the month report.

    Reads the raw values, before staging nulls the markers and maps Y/N to 1/0, so all 16 text
    columns are covered. Small, so rebuilt whole on every run.
-#}

with

applications as (

    select * from {{ source('raw', 'applications') }}
    where application_month is not null

),

unseen as (

    {% for column in categorical_levels() -%}
        select
            application_month,
            cast('{{ column }}' as {{ dbt.type_string() }}) as column_name,
            {{ column }} as value,
            count(*) as applications
        from applications
        where
            {{ column }} is not null
            and {{ column }} not in ({{ known_raw_values(column) }})
        group by application_month, {{ column }}
        {% if not loop.last %}
            union all

        {% endif -%}
    {% endfor %}
)

select * from unseen
