{#
  Incremental gold models recompute only the keys touched since their last run: rows of
  int_olist__order_items_enriched whose _changed_at is newer than the _source_watermark stored in the
  model (the newest _changed_at seen by the previous run). Keys whose sales all disappeared (an order
  no longer delivered) are removed by the model's post-hook.
#}
{% macro olist_changed_since_last_run(relation_alias='items') -%}
    {%- if is_incremental() -%}
    {{ relation_alias }}._changed_at > (select coalesce(max(_source_watermark), '1900-01-01'::timestamp) from {{ this }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{% macro olist_source_watermark() -%}
    (select max(_changed_at) from {{ ref('int_olist__order_items_enriched') }})
{%- endmacro %}
