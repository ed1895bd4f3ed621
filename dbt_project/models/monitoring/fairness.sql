{#-
    Outcomes of the scores by CODE_GENDER, per month: mean probability, approval rate and its
    ratio to the best-treated group (the four-fifths rule reads it: below 0.8 is a warning),
    and, where outcomes are known today, the default rate and the AUC within each group.
    Every month is recomputed: outcomes of an old month keep arriving.
-#}

with

scored as (

    select
        predictions.application_month,
        coalesce(applications.code_gender, 'unknown') as group_value,
        predictions.default_probability,
        predictions.decision,
        labels.target
    from {{ source('scoring', 'predictions') }} as predictions
    join {{ ref('stg_home_credit__applications') }} as applications using (sk_id_curr)
    left join {{ ref('int_labels_known_today') }} as labels using (sk_id_curr)

),

ranked as (

    select
        *,
        {{ average_rank('application_month, group_value, target is not null', 'default_probability') }} as score_rank
    from scored

),

groups as (

    select
        application_month,
        group_value,
        count(*) as applications,
        avg(default_probability) as mean_probability,
        avg(case when decision = 'approve' then 1.0 else 0.0 end) as approval_rate,
        count(target) as labelled,
        avg(target) as default_rate,
        {{ auc_from_ranks('score_rank', 'target') }} as auc
    from ranked
    group by application_month, group_value

)

select
    application_month,
    'code_gender' as group_column,
    group_value,
    applications,
    round(mean_probability, 6) as mean_probability,
    round(approval_rate, 6) as approval_rate,
    round(approval_rate / nullif(max(approval_rate) over (partition by application_month), 0), 6) as approval_rate_ratio,
    labelled,
    round(default_rate, 6) as default_rate,
    round(auc, 6) as auc
from groups
