{#
  The rows of one loaded table as exactly the columns asked for, each cast to its type.

  dlt creates a table only once it has held a row, and a column only once it has held a value, so an
  account without spam complaints has no campaign_spam_complaints table and one whose bounces never had
  a reason has no reason column. A missing table reads as no rows, a missing column as nulls: a model
  over a feature the account lacks comes out empty instead of failing.

  columns: a list of [name, type]; the type "utc" is a loaded TIMESTAMP WITH TIME ZONE read as a UTC
  timestamp without zone, so every model time is UTC whatever the session's zone.
#}
{% macro cm_source_rows(table, columns) -%}
  {%- set declared = source('campaign_monitor', table) -%}
  {%- set found = adapter.get_relation(database=declared.database, schema=declared.schema, identifier=declared.identifier) if execute else none -%}
  {%- set present = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list if found is not none else [] -%}
  select
  {%- for name, type in columns %}
    {{ cm_typed(adapter.quote(name) if name in present else 'null', type) }} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
  {%- endfor %}
  {% if found is not none -%} from {{ found }} {%- else -%} where 1 = 0 {%- endif %}
{%- endmacro %}


{% macro cm_typed(expression, type) -%}
  {%- if type == 'utc' -%}
    (cast({{ expression }} as timestamp with time zone) at time zone 'UTC')
  {%- else -%}
    cast({{ expression }} as {{ type }})
  {%- endif -%}
{%- endmacro %}


{#
  Several loaded tables of one kind as one set of rows: each table's rows (cm_source_rows) with a first
  column naming what they are. parts: a list of [table, label].
#}
{% macro cm_union_rows(parts, columns, label_column) -%}
  {%- for table, label in parts %}
select '{{ label }}' as {{ label_column }}, rows_from_{{ loop.index }}.*
from ({{ cm_source_rows(table, columns) }}) as rows_from_{{ loop.index }}
{{ "union all" if not loop.last }}
  {%- endfor %}
{%- endmacro %}


{# The loaded tables of campaign report events, each with the event_type its rows are. #}
{% macro cm_campaign_event_tables() -%}
  {{- return([
      ['campaign_opens', 'open'], ['campaign_clicks', 'click'], ['campaign_bounces', 'bounce'],
      ['campaign_unsubscribes', 'unsubscribe'], ['campaign_spam_complaints', 'spam_complaint'],
  ]) -}}
{%- endmacro %}
