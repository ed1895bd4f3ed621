with

applications as (

    select * from {{ source('raw', 'applications') }}

),

cleaned as (

    select
        sk_id_curr,
        target,
        application_month,
        delivery_file,
        loaded_at,
        application_month is null as is_history,

        {% for column in application_numeric_columns() -%}
            {{ column }},
        {% endfor %}

        -- 365243 days (1,000 years) means "not employed" (pensioners, unemployed): a flag, not a duration.
        case when days_employed = 365243 then null else days_employed end as days_employed,
        case when days_employed = 365243 then 1 else 0 end as days_employed_anomaly,

        -- Any other value is one never seen before: null here, and a warning on the source.
        case flag_own_car when 'Y' then 1 when 'N' then 0 end as flag_own_car,
        case flag_own_realty when 'Y' then 1 when 'N' then 0 end as flag_own_realty,

        -- The source's markers for "not known" (XNA, Unknown: `null_markers()`) become null.
        {% for column in one_hot_levels() -%}
            {{ without_null_markers(column) }} as {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}

    from applications

)

select * from cleaned
