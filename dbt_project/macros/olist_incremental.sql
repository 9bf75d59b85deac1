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

{#
  The gold keys (columns) an incremental run must recompute: those of the items changed since the last
  run, as they are now and as they were before (int_olist__item_key_history), so a key an item moved
  away from is recomputed too. A model calling it needs `-- depends_on: {{ ref('int_olist__item_key_history') }}`
  (dbt cannot see a ref inside is_incremental() when it parses).
#}
{% macro olist_affected_keys(columns, relation_alias='items') -%}
    select distinct {{ columns | join(', ') }}
    from {{ relation_alias }}
    where {{ olist_changed_since_last_run(relation_alias) }}
    {%- if is_incremental() %}
    union
    select distinct {{ columns | join(', ') }}
    from {{ ref('int_olist__item_key_history') }} as history
    where (history.order_id, history.order_item_id) in (
        select order_id, order_item_id from {{ relation_alias }} where {{ olist_changed_since_last_run(relation_alias) }}
    )
    {%- endif %}
{%- endmacro %}
