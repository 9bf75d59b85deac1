{# Generic tests of the shop models (dbt deps cannot reach the hub, so we write the few we need). #}

{# No two rows share the combination of columns. #}
{% test shop_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Every non-null value is >= min_value (strictly > when inclusive=false). #}
{% test shop_at_least(model, column_name, min_value, inclusive=true) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
{% endtest %}
