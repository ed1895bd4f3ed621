{#- One row per application, numeric only: the table that training and scoring both read. -#}

with

applications as (

    select * from {{ ref('stg_home_credit__applications') }}

),

features as (

    select
        sk_id_curr,
        application_month,
        is_history,

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

)

select * from features
