{#- Models land in the schema they name (staging, marts), not "<target>_<schema>",
    so Python, dbt and BI all read `marts.fct_application_features`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
