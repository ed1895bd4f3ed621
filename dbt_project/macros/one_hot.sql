{#- One-hot encoding from fixed level lists.

    The levels are fixed here, not discovered from the data, so the training rows of any
    month and the scoring rows of any other month get exactly the same columns. A value
    outside the list lands in `<column>__unseen`; a null (including the markers of
    `null_markers()`, nulled in staging) sets no column. Adding a level means adding it here and
    its column to `fct_application_features.yml`; the enforced contract fails until both agree. -#}

{% macro one_hot_levels() %}
    {{ return({
        "name_contract_type": ["Cash loans", "Revolving loans"],
        "code_gender": ["F", "M"],
        "name_type_suite": ["Unaccompanied", "Family", "Spouse, partner", "Children", "Other_B", "Other_A", "Group of people"],
        "name_income_type": ["Working", "Commercial associate", "Pensioner", "State servant", "Unemployed", "Student", "Businessman", "Maternity leave"],
        "name_education_type": ["Secondary / secondary special", "Higher education", "Incomplete higher", "Lower secondary", "Academic degree"],
        "name_family_status": ["Married", "Single / not married", "Civil marriage", "Separated", "Widow"],
        "name_housing_type": ["House / apartment", "With parents", "Municipal apartment", "Rented apartment", "Office apartment", "Co-op apartment"],
        "occupation_type": ["Laborers", "Sales staff", "Core staff", "Managers", "Drivers", "High skill tech staff", "Accountants", "Medicine staff", "Security staff", "Cooking staff", "Cleaning staff", "Private service staff", "Low-skill Laborers", "Waiters/barmen staff", "Secretaries", "Realty agents", "HR staff", "IT staff"],
        "weekday_appr_process_start": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"],
        "organization_type": ["Business Entity Type 3", "Self-employed", "Other", "Medicine", "Business Entity Type 2", "Government", "School", "Trade: type 7", "Kindergarten", "Construction", "Business Entity Type 1", "Transport: type 4", "Trade: type 3", "Industry: type 9", "Industry: type 3", "Security", "Housing", "Industry: type 11", "Military", "Bank", "Agriculture", "Police", "Transport: type 2", "Postal", "Security Ministries", "Trade: type 2", "Restaurant", "Services", "University", "Industry: type 7", "Transport: type 3", "Industry: type 1", "Hotel", "Electricity", "Industry: type 4", "Trade: type 6", "Industry: type 5", "Insurance", "Telecom", "Emergency", "Industry: type 2", "Advertising", "Realtor", "Culture", "Industry: type 12", "Trade: type 1", "Mobile", "Legal Services", "Cleaning", "Transport: type 1", "Industry: type 6", "Industry: type 10", "Religion", "Industry: type 13", "Trade: type 4", "Trade: type 5", "Industry: type 8"],
        "fondkapremont_mode": ["reg oper account", "reg oper spec account", "not specified", "org spec account"],
        "housetype_mode": ["block of flats", "specific housing", "terraced house"],
        "wallsmaterial_mode": ["Panel", "Stone, brick", "Block", "Wooden", "Mixed", "Monolithic", "Others"],
        "emergencystate_mode": ["No", "Yes"],
    }) }}
{% endmacro %}


{#- The source's markers for "not known", per column: staging turns them into null, so they
    are neither a level nor a value never seen before. -#}
{% macro null_markers() %}
    {{ return({
        "code_gender": ["XNA"],
        "name_family_status": ["Unknown"],
        "organization_type": ["XNA"],
    }) }}
{% endmacro %}


{#- Every text column of the raw-file contract (`warehouse/contract.py`) with its known raw
    values: the one-hot columns, plus the Y/N flags that staging turns into 1/0. A raw value
    is never seen before when it is not null, not listed here and not a null marker. -#}
{% macro categorical_levels() %}
    {%- set levels = {} -%}
    {%- do levels.update(one_hot_levels()) -%}
    {%- do levels.update({"flag_own_car": ["Y", "N"], "flag_own_realty": ["Y", "N"]}) -%}
    {{ return(levels) }}
{% endmacro %}


{#- A column with its null markers turned into null (the column itself when it has none). -#}
{% macro without_null_markers(column) -%}
    {%- set built = namespace(expression=column) -%}
    {%- for marker in null_markers().get(column, []) -%}
        {%- set built.expression = "nullif(" ~ built.expression ~ ", " ~ sql_string(marker) ~ ")" -%}
    {%- endfor -%}
    {{ return(built.expression) }}
{%- endmacro %}


{#- The SQL list of a column's known raw values and null markers, for `not in (...)`. -#}
{% macro known_raw_values(column) -%}
    {%- set values = categorical_levels()[column] + null_markers().get(column, []) -%}
    {%- for value in values %}{{ sql_string(value) }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}


{#- A level as part of a column name: "Trade: type 7" -> "trade_type_7". -#}
{% macro level_slug(level) -%}
    {{ return(modules.re.sub("[^a-z0-9]+", "_", level | lower).strip("_")) }}
{%- endmacro %}


{% macro sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}


{#- The one-hot columns of one categorical column, then its `__unseen` bucket. -#}
{% macro one_hot(column) -%}
    {%- set levels = one_hot_levels()[column] -%}
    {%- for level in levels %}
    case when {{ column }} = {{ sql_string(level) }} then 1 else 0 end as {{ column }}__{{ level_slug(level) }},
    {%- endfor %}
    case
        when {{ column }} is not null
            and {{ column }} not in ({% for level in levels %}{{ sql_string(level) }}{% if not loop.last %}, {% endif %}{% endfor %})
        then 1 else 0
    end as {{ column }}__unseen
{%- endmacro %}


{#- Every categorical column's one-hot block, comma separated. -#}
{% macro one_hot_all() -%}
    {%- for column in one_hot_levels() %}
        {{ one_hot(column) }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
