{#-
    Outcomes of the scores per protected attribute (`protected_attributes`) and per age band, by
    month: mean probability, approval rate and its ratio to the reference group's (the
    four-fifths rule reads it, in `monitoring_warnings`), and, where outcomes are known today,
    the default rate and the AUC within each group.

    The reference is the group approved most among those large enough to judge
    (`fairness_min_group_applications`): a handful of applicants is no approval rate, and one
    approved XNA applicant must not set the bar every other group is held to. Smaller groups
    are reported, unjudged. Every month is recomputed: outcomes of an old month keep arriving.
-#}

{%- set edges = var('age_band_edges') -%}
{%- set attributes = [] -%}
{%- for attribute in var('protected_attributes') -%}
    {#- age is judged by its bands, not by the day -#}
    {%- if attribute | lower != 'days_birth' -%}{%- do attributes.append(attribute | lower) -%}{%- endif -%}
{%- endfor -%}
{%- set group_columns = attributes + ['age_band'] -%}

with

predictions as (

    select * from {{ source('scoring', 'predictions') }}

),

applications as (

    select * from {{ ref('stg_home_credit__applications') }}

),

labels as (

    select * from {{ ref('int_labels_known_today') }}

),

scored as (

    select
        predictions.application_month,
        predictions.default_probability,
        predictions.decision,
        labels.target,
        {% for column in attributes -%}
            cast(applications.{{ column }} as {{ dbt.type_string() }}) as {{ column }},
        {% endfor -%}
        -- age in whole years on the application day
        floor(-applications.days_birth / 365.25) as age_years
    from predictions
    inner join applications on predictions.sk_id_curr = applications.sk_id_curr
    left join labels on predictions.sk_id_curr = labels.sk_id_curr

),

banded as (

    select
        *,
        case
            {% for edge in edges -%}
                when age_years < {{ edge }} then '{{ "<" ~ edge if loop.first else loop.previtem ~ "-" ~ (edge - 1) }}'
            {% endfor -%}
            when age_years >= {{ edges[-1] }} then '{{ edges[-1] }}+'
        end as age_band
    from scored

),

-- One row per application and group column: each column's groups are judged on their own.
by_group as (

    {% for column in group_columns -%}
        select
            application_month,
            cast('{{ column }}' as {{ dbt.type_string() }}) as group_column,
            coalesce({{ column }}, 'unknown') as group_value,
            default_probability,
            decision,
            target
        from banded
        {% if not loop.last %}
            union all

        {% endif -%}
    {% endfor %}
),

ranked as (

    select
        *,
        {{ average_rank('application_month, group_column, group_value, target is not null', 'default_probability') }}
            as score_rank
    from by_group

),

groups as (

    select
        application_month,
        group_column,
        group_value,
        count(*) as applications,
        count(*) >= {{ var('fairness_min_group_applications') }} as judged,
        avg(default_probability) as mean_probability,
        -- a double: `1.0` is a decimal, whose mean Spark keeps at five places
        avg(cast(decision = 'approve' as double)) as approval_rate,
        count(target) as labelled,
        avg(target) as default_rate,
        {{ auc_from_ranks('score_rank', 'target') }} as auc
    from ranked
    group by application_month, group_column, group_value

),

judged_by_approval as (

    select
        application_month,
        group_column,
        group_value,
        approval_rate,
        -- ties go to the first value in alphabetical order, so the reference is the same on every build
        row_number()
            over (partition by application_month, group_column order by approval_rate desc, group_value asc)
            as approval_order
    from groups
    where judged

),

reference_groups as (

    select
        application_month,
        group_column,
        group_value as reference_group,
        approval_rate as reference_approval_rate
    from judged_by_approval
    where approval_order = 1

),

final as (

    select
        groups.application_month,
        groups.group_column,
        groups.group_value,
        groups.applications,
        groups.judged,
        reference_groups.reference_group,
        round(groups.mean_probability, 6) as mean_probability,
        round(groups.approval_rate, 6) as approval_rate,
        round(groups.approval_rate / nullif(reference_groups.reference_approval_rate, 0), 6) as approval_rate_ratio,
        groups.labelled,
        round(groups.default_rate, 6) as default_rate,
        round(groups.auc, 6) as auc
    from groups
    left join reference_groups
        on
            groups.application_month = reference_groups.application_month
            and groups.group_column = reference_groups.group_column

)

select * from final
