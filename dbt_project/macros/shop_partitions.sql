{#
  The Dagster partition window: rows whose date lies in [SHOPFLOW_DBT_MIN_DATE, SHOPFLOW_DBT_MAX_DATE).
  An environment variable, not a --vars value: changing --vars makes dbt parse the whole project again.
  Unset (dbt by hand), the window is every day.
  Incremental shop marts rebuild exactly the days of the window (delete+insert on the date column).
#}
{% macro shop_in_partition_window(column) -%}
    {{ column }} >= cast('{{ env_var("SHOPFLOW_DBT_MIN_DATE", "1900-01-01") }}' as date)
    and {{ column }} < cast('{{ env_var("SHOPFLOW_DBT_MAX_DATE", "9999-12-31") }}' as date)
{%- endmacro %}
