{#- The SQL that differs between DuckDB (the default target) and Spark (the `spark` target), in
    one place: the models call these and build from one source on both. Each macro dispatches on
    the adapter to its `duckdb__` or `spark__` form, and each pair gives the same values
    (tests/system/test_spark_month.py compares the monitoring tables they build, and runs the
    monitoring models' dbt unit tests on Spark). Another adapter needs its own pair: without one,
    dbt says which. -#}

{#- How many of the ascending `cuts` lie below `value`: its bin, 0 to the number of cuts. -#}
{% macro count_below(cuts, value) %}{{ return(adapter.dispatch('count_below')(cuts, value)) }}{% endmacro %}

{% macro duckdb__count_below(cuts, value) -%}
    len(list_filter({{ cuts }}, lambda cut: cut < {{ value }}))
{%- endmacro %}

{% macro spark__count_below(cuts, value) -%}
    size(filter({{ cuts }}, cut -> cut < {{ value }}))
{%- endmacro %}


{#- Select-list items giving one row per element of `list`: its position from 0 and its value. -#}
{% macro positions_and_values(list, position, value) -%}
    {{ return(adapter.dispatch('positions_and_values')(list, position, value)) }}
{%- endmacro %}

{% macro duckdb__positions_and_values(list, position, value) -%}
    unnest(range(len({{ list }}))) as {{ position }}, unnest({{ list }}) as {{ value }}
{%- endmacro %}

{% macro spark__positions_and_values(list, position, value) -%}
    posexplode({{ list }}) as ({{ position }}, {{ value }})
{%- endmacro %}


{#- A sentence from a template in Python's format syntax (`{}`, `{:.2f}`, `{:,}`) and the SQL expressions
    that fill it; the template's quotes escaped for SQL (`''`). -#}
{% macro format_message(template, arguments) -%}
    {{ return(adapter.dispatch('format_message')(template, arguments)) }}
{%- endmacro %}

{#- DuckDB's `format` reads the template as Python would. -#}
{% macro duckdb__format_message(template, arguments) -%}
    format('{{ template }}', {{ arguments | join(', ') }})
{%- endmacro %}

{#- Spark's `format_string` is Java's, which rounds 0.125 to 0.13 where Python gives 0.12: the numbers
    are filled by `format_number`, which rounds the double's exact value as Python does, and joined. -#}
{% macro spark__format_message(template, arguments) -%}
    {#- split on the placeholders, kept: text, placeholder, text, ... -#}
    {%- set pieces = modules.re.split('(\\{[^}]*\\})', template) -%}
    {%- set parts = [] -%}
    {%- for piece in pieces -%}
        {%- set argument = arguments[loop.index0 // 2] if loop.index0 is odd else none -%}
        {%- set places = modules.re.fullmatch('\\{:\\.(\\d+)f\\}', piece) -%}
        {%- if argument is none -%}
            {#- Spark before 4.0 reads `''` as two literals side by side, not a quote: a backslash escapes it on every version. -#}
            {%- do parts.append("'" ~ piece.replace("''", "\\'") ~ "'") -%}
        {%- elif piece == '{}' -%}
            {%- do parts.append('cast(' ~ argument ~ ' as string)') -%}
        {%- elif piece == '{:,}' -%}
            {%- do parts.append('format_number(' ~ argument ~ ', 0)') -%}
        {%- elif places -%}
            {#- no thousands separator, as in Python's {:.2f} -#}
            {%- do parts.append("replace(format_number(" ~ argument ~ ", " ~ places.group(1) ~ "), ',', '')") -%}
        {%- else -%}
            {%- do exceptions.raise_compiler_error("format_message has no Spark form for " ~ piece) -%}
        {%- endif -%}
    {%- endfor -%}
    concat({{ parts | join(', ') }})
{%- endmacro %}
