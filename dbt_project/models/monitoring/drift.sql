{#-
    Population stability index of a month against the development sample of the model that
    scored it, per feature and of the score. The bins and their expected shares were fixed when
    the model was trained (`scoring.feature_baselines`, `ml/feature_baseline.py`): deciles of
    each numeric feature over its training set, plus a bin for missing values; the levels of
    each categorical column by its one-hot columns, plus `missing` (a level the model's sample
    had no column for was `unseen` there, and is counted so); and the deciles of the model's
    out-of-sample validation scores (`scoring.model_registry.score_bin_*`). A month is only
    ever binned with them: on DuckDB it reads the month's rows, however long the history grows.
    A month whose model has no baseline (registered before they were recorded, its training
    set gone) gets the score's PSI alone, and the drift check says so.

    Incremental: a build computes only the months scored since the last build (a month whose
    `scored_at` changed), and replaces their rows, so no variable has to be passed to dbt.
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
{%- set one_hot = [] -%}
{%- set mart_features = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(ref('fct_application_features')) -%}
        {#- one-hot columns (`column__level`) are measured together, as their categorical column -#}
        {%- if column.name not in excluded -%}
            {%- do (one_hot if '__' in column.name else numeric).append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column in numeric -%}
        {%- do mart_features.append((column, 'numeric')) -%}
    {%- endfor -%}
    {%- for column in one_hot -%}
        {%- set feature = (column.split('__')[0], 'categorical') -%}
        {%- if feature not in mart_features -%}{%- do mart_features.append(feature) -%}{%- endif -%}
    {%- endfor -%}
{%- endif -%}

{#- Spark computes a CTE again at each reference (DuckDB once), so the month's applications are
    referenced only by the counts made of them, never by a filter or a list that can come from
    elsewhere: the features the mart has now come from its columns, the models whose baselines
    matter from the month's predictions. -#}

with

predictions as (

    select * from {{ source('scoring', 'predictions') }}

),

model_registry as (

    select * from {{ source('scoring', 'model_registry') }}

),

feature_baselines as (

    select * from {{ source('scoring', 'feature_baselines') }}

),

features as (

    select * from {{ ref('fct_application_features') }}

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

-- The months' applications, each with the model that scored it: the history is never read.
month_applications as (

    select
        {% for column in numeric -%}
            cast(features.{{ column }} as double) as {{ column }},
        {% endfor -%}
        {% for column in one_hot -%}
            features.{{ column }},
        {% endfor -%}
        months.month,
        predictions.model_version
    from features
    inner join months on features.application_month = months.month
    inner join predictions
        on
            features.sk_id_curr = predictions.sk_id_curr
            and features.application_month = predictions.application_month

),

month_totals as (

    select
        month,
        model_version,
        count(*) as month_rows
    from month_applications
    group by month, model_version

),

-- The models that scored the months, from the predictions alone.
month_models as (

    select distinct predictions.model_version
    from predictions
    inner join months on predictions.application_month = months.month

),

-- The features the mart has now, each of its kind: a model's baseline of a feature since dropped,
-- or of another kind then, is not compared.
mart_features as (

    select
        listed.feature,
        listed.feature_kind
    from (
        values
        {% for feature, kind in mart_features -%}
            ({{ sql_string(feature) }}, {{ sql_string(kind) }}){{ ',' if not loop.last }}
        {% endfor -%}
    ) as listed (feature, feature_kind)

),

-- The baselines of the models that scored the months, one row per bin.
baseline_shares as (

    select
        version,
        feature,
        feature_kind,
        reference_rows,
        {{ positions_and_values('shares', 'position', 'expected_share') }}
    from feature_baselines
    where version in (select month_models.model_version from month_models)

),

baseline_bin_names as (

    select
        version,
        feature,
        {{ positions_and_values('bins', 'position', 'bin') }}
    from feature_baselines
    where version in (select month_models.model_version from month_models)

),

baseline_bins as (

    select
        baseline_shares.version,
        baseline_shares.feature,
        baseline_shares.feature_kind,
        baseline_shares.reference_rows,
        baseline_bin_names.bin,
        baseline_shares.expected_share
    from baseline_shares
    inner join baseline_bin_names
        on
            baseline_shares.version = baseline_bin_names.version
            and baseline_shares.feature = baseline_bin_names.feature
            and baseline_shares.position = baseline_bin_names.position

),

numeric_values as (

    select
        {% for column in numeric -%}
            {{ column }},
        {% endfor -%}
        month,
        model_version
    from month_applications

),

numeric_long as (

    select * from numeric_values
    unpivot include nulls (value for feature in ({{ numeric | join(', ') }}))

),

numeric_bins as (

    select
        numeric_long.month,
        numeric_long.model_version,
        numeric_long.feature,
        case
            when numeric_long.value is null then 'missing'
            else cast({{ count_below('feature_baselines.cuts', 'numeric_long.value') }} as {{ dbt.type_string() }})
        end as bin
    from numeric_long
    inner join feature_baselines
        on
            numeric_long.model_version = feature_baselines.version
            and numeric_long.feature = feature_baselines.feature
            and feature_baselines.feature_kind = 'numeric'

),

numeric_counts as (

    select
        month,
        model_version,
        feature,
        bin,
        count(*) as month_count
    from numeric_bins
    group by month, model_version, feature, bin

),

-- Each one-hot column's count in the month: a categorical column's bins.
one_hot_sums as (

    select
        {% for column in one_hot -%}
            sum({{ column }}) as {{ column }},
        {% endfor -%}
        month,
        model_version
    from month_applications
    group by month, model_version

),

one_hot_counts as (

    select
        month,
        model_version,
        {{ dbt.split_part('one_hot_column', "'__'", 1) }} as feature,
        {{ dbt.split_part('one_hot_column', "'__'", 2) }} as level,
        month_count
    from one_hot_sums
    unpivot (month_count for one_hot_column in ({{ one_hot | join(', ') }}))

),

categorical_counts as (

    -- A level the model's development sample had no column for was `unseen` there, and is counted so.
    select
        one_hot_counts.month,
        one_hot_counts.model_version,
        one_hot_counts.feature,
        coalesce(baseline_bins.bin, 'unseen') as bin,
        sum(one_hot_counts.month_count) as month_count
    from one_hot_counts
    left join baseline_bins
        on
            one_hot_counts.model_version = baseline_bins.version
            and one_hot_counts.feature = baseline_bins.feature
            and one_hot_counts.level = baseline_bins.bin
    group by all

),

level_totals as (

    select
        month,
        model_version,
        feature,
        sum(month_count) as month_count
    from one_hot_counts
    group by month, model_version, feature

),

-- Rows with no one-hot column of a categorical column set: its value is missing.
categorical_missing as (

    select
        month_totals.month,
        month_totals.model_version,
        level_totals.feature,
        'missing' as bin,
        month_totals.month_rows - level_totals.month_count as month_count
    from month_totals
    inner join level_totals
        on month_totals.month = level_totals.month and month_totals.model_version = level_totals.model_version

),

month_counts as (

    select * from numeric_counts
    union all
    select * from categorical_counts
    union all
    select * from categorical_missing

),

feature_shares as (

    select
        month_totals.month,
        baseline_bins.feature,
        baseline_bins.feature_kind,
        baseline_bins.version,
        baseline_bins.reference_rows,
        month_totals.month_rows,
        baseline_bins.expected_share,
        coalesce(month_counts.month_count, 0) as month_count
    from baseline_bins
    inner join month_totals on baseline_bins.version = month_totals.model_version
    inner join mart_features
        on
            baseline_bins.feature = mart_features.feature
            and baseline_bins.feature_kind = mart_features.feature_kind
    left join month_counts
        on
            month_totals.month = month_counts.month
            and baseline_bins.version = month_counts.model_version
            and baseline_bins.feature = month_counts.feature
            and baseline_bins.bin = month_counts.bin

),

feature_psi as (

    select
        month,
        feature as subject,
        feature_kind as subject_kind,
        version as model_version,
        sum({{ psi_term('month_count / month_rows', 'expected_share') }}) as psi,
        -- Counts as bigint on both engines: DuckDB's sum of counts is a 128-bit integer, which its
        -- Parquet copy writes as a double.
        cast(any_value(reference_rows) as bigint) as window_rows,
        cast(any_value(month_rows) as bigint) as month_rows,
        count(*) as bins
    from feature_shares
    group by month, feature, feature_kind, version

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
