{#-
    The months `monitoring_warnings` was decided for: every month of the marts it reads, built
    right after it and from it, so dbt skips this model whenever it skips the warnings (a failed
    test on a mart they read, or on the warnings themselves) and its table keeps the last
    complete build's months. A month of `drift` missing here, or here with another `scored_at`,
    has PSIs whose warnings were never decided: readers say "not computed", not "none"
    (`warehouse/monitoring_warnings.py`).
-#}

with

months as (

    select application_month from {{ ref('drift') }}
    union
    select application_month from {{ ref('fairness') }}
    union
    select application_month from {{ ref('performance') }}
    union
    select application_month from {{ ref('unseen_levels') }}

),

drift_months as (

    select
        application_month,
        max(scored_at) as drift_scored_at
    from {{ ref('drift') }}
    group by application_month

),

warnings_by_month as (

    select
        application_month,
        count(*) as warnings
    from {{ ref('monitoring_warnings') }}
    group by application_month

),

final as (

    select
        months.application_month,
        drift_months.drift_scored_at,
        coalesce(warnings_by_month.warnings, 0) as warnings
    from months
    left join drift_months using (application_month)
    left join warnings_by_month using (application_month)

)

select * from final
