{#
  Rows whose columns together are not unique (dbt's own unique test takes one column). A table that
  does not exist has no rows to repeat: the check passes instead of failing the build, because dlt
  creates a loaded table only once it holds a row (an account without journeys has no journeys table).
#}
{% test cm_unique_together(model, columns) %}
{%- set found = adapter.get_relation(database=model.database, schema=model.schema, identifier=model.identifier)
    if execute and model.identifier is defined else model -%}
{%- if found is none %}
select 0 as copies
where 1 = 0
{%- else %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- endif %}
{% endtest %}


{# Rows where a measure counted from the loaded rows differs from the API's own summary of it. #}
{% test cm_matches_api(model, column_name, api_column) %}
select *
from {{ model }}
where {{ api_column }} is not null and {{ column_name }} <> {{ api_column }}
{% endtest %}
