{#-
    Realised performance of each scored month, once outcomes are known: AUC and KS of the
    probabilities against the outcomes known today, beside the validation AUC the scoring
    model was promoted with. Every month is recomputed: outcomes keep arriving.
-#}

with

labelled as (

    select
        predictions.application_month,
        predictions.model_version,
        predictions.default_probability,
        labels.target
    from {{ source('scoring', 'predictions') }} as predictions
    inner join {{ ref('int_labels_known_today') }} as labels using (sk_id_curr)

),

ranked as (

    select
        *,
        {{ average_rank('application_month', 'default_probability') }} as score_rank
    from labelled

),

by_month as (

    select
        application_month,
        count(*) as labelled,
        cast(sum(target) as bigint) as defaults,  -- DuckDB's sum is 128-bit, Spark's bigint
        avg(target) as default_rate,
        {{ auc_from_ranks('score_rank', 'target') }} as auc
    from ranked
    group by application_month

),

-- KS: the largest gap between the cumulative shares of defaulters and non-defaulters,
-- taken at each distinct score from the riskiest down.
thresholds as (

    select
        application_month,
        default_probability,
        sum(target) as defaults_at,
        count(*) - sum(target) as goods_at
    from labelled
    group by application_month, default_probability

),

cumulative as (

    select
        application_month,
        sum(defaults_at) over riskiest_first / sum(defaults_at) over whole_month as default_share,
        sum(goods_at) over riskiest_first / sum(goods_at) over whole_month as good_share
    from thresholds
    window
        riskiest_first as (partition by application_month order by default_probability desc rows unbounded preceding),
        whole_month as (partition by application_month)

),

ks as (

    select
        application_month,
        max(abs(default_share - good_share)) as ks
    from cumulative
    group by application_month

),

scored as (

    select
        application_month,
        count(*) as applications,
        any_value(model_version) as model_version
    from {{ source('scoring', 'predictions') }}
    group by application_month

)

select
    scored.application_month,
    scored.model_version,
    scored.applications,
    coalesce(by_month.labelled, 0) as labelled,
    by_month.defaults,
    round(by_month.default_rate, 6) as default_rate,
    round(by_month.auc, 6) as auc,
    round(ks.ks, 6) as ks,
    registry.validation_auc
from scored
left join by_month using (application_month)
left join ks using (application_month)
left join {{ source('scoring', 'model_registry') }} as registry on scored.model_version = registry.version
