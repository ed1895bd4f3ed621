{#-
    Population stability index of a month against its training window (every row delivered
    before it, history included), per feature and of the score. Bins come from the training
    window only: deciles of each numeric feature (plus a bin for missing values), the levels
    of each categorical column (a level never seen before is its own bin), and the deciles of
    the scoring model's out-of-sample validation scores (`scoring.model_registry.score_bin_*`).

    Incremental: a build computes only the months scored since the last build (a month whose
    `scored_at` changed), and replaces their rows. A month's run therefore costs the same
    however long the history grows, and no variable has to be passed to dbt.
-#}
{#- On Spark, whose Parquet tables take no `delete`, the months computed replace their partitions. -#}
{% if target.type == 'spark' %}
    {{
        config(
            materialized='incremental', incremental_strategy='insert_overwrite', partition_by=['application_month']
        )
    }}
{% else %}
    {{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='application_month') }}
{% endif %}

{%- set excluded = ['sk_id_curr', 'application_month', 'is_history', 'delivery_file', 'loaded_at'] -%}
{%- set numeric = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(ref('fct_application_features')) -%}
        {#- one-hot columns (`column__level`) are measured as their categorical column below -#}
        {%- if '__' not in column.name and column.name not in excluded -%}
            {%- do numeric.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set categorical = one_hot_levels().keys() | list -%}
{%- set window_sample = 5 -%}

with

predictions as (

    select * from {{ source('scoring', 'predictions') }}

),

model_registry as (

    select * from {{ source('scoring', 'model_registry') }}

),

features as (

    select * from {{ ref('fct_application_features') }}

),

applications as (

    select * from {{ ref('stg_home_credit__applications') }}

),

-- The months to compute: every scored month, less (on an incremental build) those whose
-- `scored_at` has not changed since the last build.
months as (

    select
        application_month as month,
        max(scored_at) as scored_at
    from predictions
    group by application_month
    {% if is_incremental() %}

        except

        select distinct
            application_month,
            scored_at
        from {{ this }}
    {% endif %}

),

numeric_rows as (

    select
        {% for column in numeric -%}
            cast(features.{{ column }} as double) as {{ column }},
        {% endfor -%}
        months.month,
        (features.is_history or features.application_month < months.month) as in_window
    from features
    inner join months
        on
            features.application_month = months.month
            -- The window's numeric bins and shares come from one row in {{ window_sample }} by id (ids
            -- run in application order, so the sample is systematic and the same on every build):
            -- the same PSI to a few thousandths, for a fifth of the memory and time.
            or (
                (features.is_history or features.application_month < months.month)
                and features.sk_id_curr % {{ window_sample }} = 0
            )

),

numeric_long as (

    select * from numeric_rows
    unpivot include nulls (value for feature in ({{ numeric | join(', ') }}))

),

numeric_cuts as (

    select
        month,
        feature,
        {{ decile_cuts('value') }} as cuts
    from numeric_long
    where in_window and value is not null
    group by month, feature

),

numeric_values as (

    select
        numeric_long.month,
        numeric_long.feature,
        numeric_long.in_window,
        numeric_long.value,
        coalesce(numeric_cuts.cuts, {{ empty_doubles() }}) as cuts
    from numeric_long
    left join numeric_cuts using (month, feature)

),

numeric_bins as (

    select
        month,
        feature,
        'numeric' as subject_kind,
        in_window,
        case
            when value is null then 'missing'
            else cast({{ count_below('cuts', 'value') }} as {{ dbt.type_string() }})
        end as bin
    from numeric_values

),

categorical_rows as (

    select
        {% for column in categorical -%}
            applications.{{ column }},
        {% endfor -%}
        months.month,
        (applications.application_month is null or applications.application_month < months.month) as in_window
    from applications
    inner join months
        on applications.application_month is null or applications.application_month <= months.month

),

categorical_bins as (

    select
        month,
        feature,
        'categorical' as subject_kind,
        in_window,
        coalesce(level, 'missing') as bin
    from categorical_rows
    unpivot include nulls (level for feature in ({{ categorical | join(', ') }}))

),

feature_bins as (

    select * from numeric_bins
    union all
    select * from categorical_bins

),

feature_counts as (

    select
        month,
        feature,
        subject_kind,
        bin,
        count(*) filter (where in_window) as window_count,
        count(*) filter (where not in_window) as month_count
    from feature_bins
    group by all

),

feature_totals as (

    select
        *,
        -- Counts as bigint on both engines: DuckDB's sum of counts is a 128-bit integer, which its
        -- Parquet copy writes as a double.
        cast(sum(window_count) over (partition by month, feature) as bigint) as window_rows,
        cast(sum(month_count) over (partition by month, feature) as bigint) as month_rows
    from feature_counts

),

feature_psi as (

    select
        month,
        feature as subject,
        subject_kind,
        cast(null as {{ dbt.type_string() }}) as model_version,
        sum({{ psi_term('month_count / month_rows', 'window_count / window_rows') }}) as psi,
        any_value(window_rows) as window_rows,
        any_value(month_rows) as month_rows,
        count(*) as bins
    from feature_totals
    where month_rows > 0
    group by month, feature, subject_kind

),

score_bins as (

    -- The scoring model's out-of-sample score deciles, one row per bin.
    select
        version,
        score_bin_upper_bounds as cuts,
        {{ positions_and_values('score_bin_shares', 'bin', 'expected_share') }}
    from model_registry
    where score_bin_shares is not null

),

score_cuts as (

    select distinct
        version,
        cuts
    from score_bins

),

month_predictions as (

    select
        months.month,
        predictions.model_version,
        predictions.default_probability,
        score_cuts.cuts
    from predictions
    inner join months on predictions.application_month = months.month
    inner join score_cuts on predictions.model_version = score_cuts.version

),

month_scores as (

    select
        month,
        model_version,
        {{ count_below('cuts', 'default_probability') }} as bin
    from month_predictions

),

score_rows as (

    select
        month,
        model_version,
        count(*) as month_rows
    from month_scores
    group by all

),

score_counts as (

    select
        month,
        model_version,
        bin,
        count(*) as month_count
    from month_scores
    group by all

),

score_psi as (

    select
        score_rows.month,
        'score' as subject,
        'score' as subject_kind,
        score_bins.version as model_version,
        sum(
            {{ psi_term('coalesce(score_counts.month_count, 0) / score_rows.month_rows', 'score_bins.expected_share') }}
        ) as psi,
        cast(null as bigint) as window_rows,
        any_value(score_rows.month_rows) as month_rows,
        count(*) as bins
    from score_bins
    inner join score_rows on score_bins.version = score_rows.model_version
    left join score_counts
        on
            score_rows.month = score_counts.month
            and score_bins.version = score_counts.model_version
            and score_bins.bin = score_counts.bin
    group by score_rows.month, score_bins.version

),

results as (

    select * from feature_psi
    union all
    select * from score_psi

),

final as (

    select
        results.month as application_month,
        results.subject,
        results.subject_kind,
        results.model_version,
        round(results.psi, 6) as psi,
        results.window_rows,
        results.month_rows,
        results.bins,
        months.scored_at
    from results
    inner join months using (month)

)

select * from final
