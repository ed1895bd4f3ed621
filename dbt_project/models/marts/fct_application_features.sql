{#-
    One row per application, numeric only: the table that training and scoring both read.

    Incremental by delivery: a build computes the rows of the deliveries loaded (or loaded
    again) since the last build, which in a month's run is the month's own file, and replaces
    those deliveries' rows; the history and earlier months stay as they are. A month's run
    therefore does not recompute 300,000 rows to add 10,000, and no variable is passed to dbt.
    When this model's definition changes (its SQL, the staging it reads, a macro they call),
    the month's run rebuilds it whole (`--full-refresh`, `assets/dbt_definitions.py`), so no
    row is ever left computed the old way.
-#}
{#- Spark's Parquet tables take no `delete`: there the mart is a table, rebuilt across the cluster. -#}
{% if target.type == 'spark' %}
    {{ config(materialized='table') }}
{% else %}
    {{
        config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='delivery_file',
            on_schema_change='fail',
            post_hook="delete from {{ this }} where delivery_file not in (select delivery_file from {{ ref('stg_home_credit__applications') }})",
        )
    }}
{% endif %}

with

applications as (

    select * from {{ ref('stg_home_credit__applications') }}

),

-- The deliveries to compute: every one, less (on an incremental build) the versions this table
-- holds already. Each load of a delivery has its own time, so a replaced delivery is new again.
new_deliveries as (

    select distinct
        delivery_file,
        loaded_at
    from applications
    {% if is_incremental() %}

        except

        select distinct
            delivery_file,
            loaded_at
        from {{ this }}
    {% endif %}

),

features as (

    select
        sk_id_curr,
        application_month,
        is_history,
        delivery_file,
        loaded_at,

        {% for column in application_numeric_columns() -%}
            {{ column }},
        {% endfor %}
        days_employed,
        days_employed_anomaly,
        flag_own_car,
        flag_own_realty,

        amt_credit / nullif(amt_income_total, 0) as credit_to_income_ratio,
        amt_annuity / nullif(amt_income_total, 0) as annuity_to_income_ratio,
        amt_annuity / nullif(amt_credit, 0) as annuity_to_credit_ratio,
        amt_credit / nullif(amt_goods_price, 0) as credit_to_goods_price_ratio,
        days_employed / nullif(days_birth, 0) as employed_to_age_ratio,
        amt_income_total / nullif(cnt_fam_members, 0) as income_per_family_member,
        (coalesce(ext_source_1, 0) + coalesce(ext_source_2, 0) + coalesce(ext_source_3, 0))
        / nullif(
            case when ext_source_1 is null then 0 else 1 end
            + case when ext_source_2 is null then 0 else 1 end
            + case when ext_source_3 is null then 0 else 1 end,
            0
        ) as ext_source_mean,

        {{ one_hot_all() }}

    from applications
    {% if is_incremental() %}
        where delivery_file in (select new_deliveries.delivery_file from new_deliveries)
    {% endif %}

)

select * from features
