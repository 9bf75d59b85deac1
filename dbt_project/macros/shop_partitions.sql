{#
  The Dagster partition window: rows whose date lies in [var('min_date'), var('max_date')).
  Incremental shop marts rebuild exactly the days of the window (delete+insert on the date column).
#}
{% macro shop_in_partition_window(column) -%}
    {{ column }} >= cast('{{ var("min_date") }}' as date) and {{ column }} < cast('{{ var("max_date") }}' as date)
{%- endmacro %}
