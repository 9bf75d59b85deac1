{# Generic test: every non-null value of the column lies in [min_value, max_value] (either bound optional). #}
{% test olist_value_between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %}
  )
{% endtest %}

{# Generic model test: no two rows share the combination of columns. #}
{% test olist_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
