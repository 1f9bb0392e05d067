{# Rows whose columns together are not unique (dbt's own unique test takes one column). #}
{% test cm_unique_together(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}


{# Rows where a measure counted from the loaded rows differs from the API's own summary of it. #}
{% test cm_matches_api(model, column_name, api_column) %}
select *
from {{ model }}
where {{ api_column }} is not null and {{ column_name }} <> {{ api_column }}
{% endtest %}
