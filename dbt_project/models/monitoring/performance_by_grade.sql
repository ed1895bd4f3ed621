{#- Per month and risk grade: applications, mean probability, and the default rate realised so far. -#}

select
    predictions.application_month,
    predictions.risk_grade,
    count(*) as applications,
    round(avg(predictions.default_probability), 6) as mean_probability,
    count(labels.target) as labelled,
    cast(sum(labels.target) as bigint) as defaults,  -- DuckDB's sum is 128-bit, Spark's bigint
    round(avg(labels.target), 6) as default_rate
from {{ source('scoring', 'predictions') }} as predictions
left join {{ ref('int_labels_known_today') }} as labels using (sk_id_curr)
group by predictions.application_month, predictions.risk_grade
