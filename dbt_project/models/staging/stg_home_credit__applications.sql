with

applications as (

    select * from {{ source('raw', 'applications') }}

),

cleaned as (

    select
        sk_id_curr,
        target,
        application_month,
        delivery_file,
        application_month is null as is_history,

        {% for column in application_numeric_columns() -%}
        {{ column }},
        {% endfor %}

        -- 365243 days (1,000 years) means "not employed" (pensioners, unemployed): a flag, not a duration.
        case when days_employed = 365243 then null else days_employed end as days_employed,
        case when days_employed = 365243 then 1 else 0 end as days_employed_anomaly,

        case flag_own_car when 'Y' then 1 when 'N' then 0 end as flag_own_car,
        case flag_own_realty when 'Y' then 1 when 'N' then 0 end as flag_own_realty,

        -- XNA and Unknown are the source's markers for "not known".
        name_contract_type,
        nullif(code_gender, 'XNA') as code_gender,
        name_type_suite,
        name_income_type,
        name_education_type,
        nullif(name_family_status, 'Unknown') as name_family_status,
        name_housing_type,
        occupation_type,
        weekday_appr_process_start,
        nullif(organization_type, 'XNA') as organization_type,
        fondkapremont_mode,
        housetype_mode,
        wallsmaterial_mode,
        emergencystate_mode

    from applications

)

select * from cleaned
