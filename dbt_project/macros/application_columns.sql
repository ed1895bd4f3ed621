{#- The numeric columns of an application that pass from raw to the feature mart as they are.
    DAYS_EMPLOYED is not here: staging cleans its 365243 sentinel. -#}

{% macro building_columns() %}
    {%- set measures = [
        "apartments", "basementarea", "years_beginexpluatation", "years_build", "commonarea", "elevators", "entrances",
        "floorsmax", "floorsmin", "landarea", "livingapartments", "livingarea", "nonlivingapartments", "nonlivingarea",
    ] -%}
    {%- set columns = [] -%}
    {%- for statistic in ["avg", "mode", "medi"] -%}
        {%- for measure in measures -%}{%- do columns.append(measure ~ "_" ~ statistic) -%}{%- endfor -%}
    {%- endfor -%}
    {%- do columns.append("totalarea_mode") -%}
    {{ return(columns) }}
{% endmacro %}


{% macro application_numeric_columns() %}
    {%- set columns = [
        "cnt_children", "amt_income_total", "amt_credit", "amt_annuity", "amt_goods_price",
        "region_population_relative", "days_birth", "days_registration", "days_id_publish", "own_car_age",
        "flag_mobil", "flag_emp_phone", "flag_work_phone", "flag_cont_mobile", "flag_phone", "flag_email",
        "cnt_fam_members", "region_rating_client", "region_rating_client_w_city", "hour_appr_process_start",
        "reg_region_not_live_region", "reg_region_not_work_region", "live_region_not_work_region",
        "reg_city_not_live_city", "reg_city_not_work_city", "live_city_not_work_city",
        "ext_source_1", "ext_source_2", "ext_source_3",
    ] + building_columns() + [
        "obs_30_cnt_social_circle", "def_30_cnt_social_circle", "obs_60_cnt_social_circle", "def_60_cnt_social_circle",
        "days_last_phone_change",
    ] -%}
    {%- for number in range(2, 22) -%}{%- do columns.append("flag_document_" ~ number) -%}{%- endfor -%}
    {%- for period in ["hour", "day", "week", "mon", "qrt", "year"] -%}
        {%- do columns.append("amt_req_credit_bureau_" ~ period) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}
