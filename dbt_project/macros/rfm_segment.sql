{#
  RFM segment (docs/requirements.md), first matching rule wins:
    Champions            recency <= 30 and frequency >= 3 and monetary >= 500
    Loyal Customers      frequency >= 3
    Potential Loyalists  recency <= 30 and frequency < 3
    At Risk              recency > 90 and frequency >= 2
    Hibernating          recency > 90
    Others               everything else
#}
{% macro rfm_segment(recency, frequency, monetary) -%}
    case
        when {{ recency }} <= 30 and {{ frequency }} >= 3 and {{ monetary }} >= 500 then 'Champions'
        when {{ frequency }} >= 3 then 'Loyal Customers'
        when {{ recency }} <= 30 and {{ frequency }} < 3 then 'Potential Loyalists'
        when {{ recency }} > 90 and {{ frequency }} >= 2 then 'At Risk'
        when {{ recency }} > 90 then 'Hibernating'
        else 'Others'
    end
{%- endmacro %}
