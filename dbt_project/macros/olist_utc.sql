{# A Delta timestamp read by DuckDB as a naive UTC timestamp, whatever the session time zone. #}
{% macro olist_utc(column) -%}
    timezone('UTC', {{ column }}::timestamptz)
{%- endmacro %}
