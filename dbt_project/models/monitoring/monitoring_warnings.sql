{#-
    Every warning of the monitoring marts, decided once: one row per warning with its figure,
    the line it crossed and the sentence a person reads. The asset checks, `credit status` and
    the month report all read this table, so they warn on the same things in the same words.

    The lines are dbt vars (`drift_psi_warning`, `fairness_approval_ratio_warning`,
    `performance_auc_drop_warning`). Sentences use `format_message` (`macros/engine_sql.sql`),
    whose specifiers ({:.2f}, {:,}) round and group digits as Python's do. Every month is rebuilt, as the marts it reads are.
-#}

{%- set psi_line = var('drift_psi_warning') -%}
{%- set ratio_line = var('fairness_approval_ratio_warning') -%}
{%- set auc_drop = var('performance_auc_drop_warning') -%}

with

drift as (

    select * from {{ ref('drift') }}

),

fairness as (

    select * from {{ ref('fairness') }}

),

performance as (

    select * from {{ ref('performance') }}

),

unseen_levels as (

    select * from {{ ref('unseen_levels') }}

),

drift_warnings as (

    select
        application_month,
        1 as kind_order,
        row_number() over (partition by application_month order by psi desc, subject asc) as order_in_kind,
        'drift' as warning_kind,
        subject,
        cast(null as {{ dbt.type_string() }}) as subject_value,
        'psi' as metric,
        psi as metric_value,
        cast({{ psi_line }} as double) as threshold,
        {{ format_message('{} PSI {:.2f}', ['subject', 'psi']) }} as message
    from drift
    where psi > {{ psi_line }}

    union all

    -- A month with the score's PSI and no feature's: its model has no feature baseline (registered before
    -- they were recorded, its training set gone). Said, first among the month's drift, never left blank.
    select
        application_month,
        1 as kind_order,
        0 as order_in_kind,
        'drift' as warning_kind,
        'features' as subject,
        cast(null as {{ dbt.type_string() }}) as subject_value,
        'features_measured' as metric,
        cast(0 as double) as metric_value,
        cast(null as double) as threshold,
        {{
            format_message(
                'features not measured: the scoring model {} has no feature baseline', ['any_value(model_version)']
            )
        }} as message
    from drift
    group by application_month
    having count(case when subject <> 'score' then 1 end) = 0

),

-- Only groups large enough to judge: a handful of applicants is no approval rate.
fairness_warnings as (

    select
        application_month,
        2 as kind_order,
        row_number() over (partition by application_month order by group_column, group_value) as order_in_kind,
        'fairness' as warning_kind,
        group_column as subject,
        group_value as subject_value,
        'approval_rate_ratio' as metric,
        approval_rate_ratio as metric_value,
        cast({{ ratio_line }} as double) as threshold,
        {{
            format_message(
                '{} {} approval-rate ratio {:.2f} (reference group {})',
                ['group_column', 'group_value', 'approval_rate_ratio', 'reference_group']
            )
        }} as message
    from fairness
    where judged and approval_rate_ratio < {{ ratio_line }}

),

performance_warnings as (

    select
        application_month,
        3 as kind_order,
        1 as order_in_kind,
        'performance' as warning_kind,
        model_version as subject,
        cast(null as {{ dbt.type_string() }}) as subject_value,
        'auc' as metric,
        auc as metric_value,
        validation_auc - {{ auc_drop }} as threshold,
        {{
            format_message(
                'realised AUC {:.4f} on {:,} outcomes vs validation AUC {:.4f} of {}',
                ['auc', 'labelled', 'validation_auc', 'model_version']
            )
        }} as message
    from performance
    where auc < validation_auc - {{ auc_drop }}

),

-- Every value never seen before warns: it is scored through its column's `__unseen` feature.
new_value_warnings as (

    select
        application_month,
        4 as kind_order,
        row_number() over (
            partition by application_month order by column_name asc, applications desc, value asc
        ) as order_in_kind,
        'new value' as warning_kind,
        column_name as subject,
        value as subject_value,
        'applications' as metric,
        cast(applications as double) as metric_value,
        cast(null as double) as threshold,
        {{
            format_message(
                "{} ''{}'' never seen before ({:,} application{})",
                ['column_name', 'value', 'applications', "case when applications = 1 then '' else 's' end"]
            )
        }} as message
    from unseen_levels

),

warnings as (

    select * from drift_warnings
    union all
    select * from fairness_warnings
    union all
    select * from performance_warnings
    union all
    select * from new_value_warnings

),

final as (

    select
        application_month,
        -- bigint on both engines (Spark's row_number is a 32-bit integer)
        cast(row_number() over (partition by application_month order by kind_order, order_in_kind) as bigint)
            as warning_order,
        warning_kind,
        subject,
        subject_value,
        metric,
        metric_value,
        threshold,
        message
    from warnings

)

select * from final
