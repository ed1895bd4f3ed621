{#- Population stability index from two shares, each floored so an empty bin counts as rare, not impossible. -#}
{% macro psi_term(actual_share, expected_share) -%}
    (greatest({{ actual_share }}, 1e-4) - greatest({{ expected_share }}, 1e-4))
        * ln(greatest({{ actual_share }}, 1e-4) / greatest({{ expected_share }}, 1e-4))
{%- endmacro %}


{#- A score's average rank within its group (ties share the mean of their ranks): the input of
    the Mann-Whitney AUC, `auc_from_ranks`. Halves are doubles: `2.0` is a decimal, which Spark
    would carry at six places into the AUC. -#}
{% macro average_rank(partition_by, score) -%}
    rank() over (partition by {{ partition_by }} order by {{ score }})
        + (count(*) over (partition by {{ partition_by }}, {{ score }}) - 1) / cast(2 as double)
{%- endmacro %}


{#- AUC = (sum of the defaulters' ranks - n1 (n1 + 1) / 2) / (n1 n0); null without both outcomes. -#}
{% macro auc_from_ranks(rank, label) -%}
    (sum({{ rank }}) filter (where {{ label }} = 1)
        - count(*) filter (where {{ label }} = 1) * (count(*) filter (where {{ label }} = 1) + 1) / cast(2 as double))
    / nullif(count(*) filter (where {{ label }} = 1) * count(*) filter (where {{ label }} = 0), 0)
{%- endmacro %}
