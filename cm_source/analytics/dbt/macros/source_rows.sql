{#
  The rows of one loaded table as exactly the columns models/sources.yml declares for it, each cast to
  its declared type, and source_relation, the dataset the row was loaded into: the body of the table's
  staging model (models/staging/stg_cm__<table>.sql). With several datasets (cm_source_datasets), the
  table's rows of each, one after another.

  dlt creates a table only once it has held a row, and a column only once it has held a value, so an
  account without spam complaints has no campaign_spam_complaints table and one whose bounces never had
  a reason has no reason column. A missing table reads as no rows, a missing column as nulls: a model
  over a feature the account lacks comes out empty instead of failing.

  A column declared "timestamp with time zone" (how dlt loads times) is read as a UTC timestamp without
  zone, so every model time is UTC whatever the session's zone.
#}
{% macro cm_source_rows(table) -%}
  {%- set declared = source('campaign_monitor', table) -%}
  {%- set columns = cm_source_columns(table) if execute else [] -%}
  {%- for dataset in cm_source_datasets() %}
  {%- set found = adapter.get_relation(database=declared.database, schema=dataset, identifier=declared.identifier) if execute else none -%}
  {%- set present = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list if found is not none else [] %}
  select
  {%- for name, type in columns %}
    {{ cm_typed(adapter.quote(name) if name in present else 'null', type) }} as {{ adapter.quote(name) }},
  {%- endfor %}
    cast('{{ dataset }}' as text) as source_relation
  {% if found is not none -%} from {{ found }} {%- else -%} where 1 = 0 {%- endif %}
  {{ "union all" if not loop.last }}
  {%- endfor %}
{%- endmacro %}


{#
  The datasets whose loaded tables the models read, each row marked with its dataset in source_relation:
  the var cm_source_datasets (a list, for several accounts loaded into datasets of their own, as Fivetran's
  union_schemas does), else the one dataset of the source (source_dataset_name).
#}
{% macro cm_source_datasets() -%}
  {{- return(var('cm_source_datasets', none) or [var('source_dataset_name', target.schema)]) -}}
{%- endmacro %}


{# [name, data_type] of each column sources.yml declares for a table of the campaign_monitor source. #}
{% macro cm_source_columns(table) -%}
  {%- set node = graph.sources.get('source.campaign_monitor.campaign_monitor.' ~ table) -%}
  {%- if node is none or not node.columns -%}
    {{ exceptions.raise_compiler_error("models/sources.yml declares no columns for the table " ~ table) }}
  {%- endif -%}
  {%- set columns = [] -%}
  {%- for column in node.columns.values() -%}
    {%- if not column.data_type -%}
      {{ exceptions.raise_compiler_error("models/sources.yml gives " ~ table ~ "." ~ column.name ~ " no data_type") }}
    {%- endif -%}
    {%- do columns.append([column.name | lower, column.data_type | lower]) -%}
  {%- endfor -%}
  {{- return(columns) -}}
{%- endmacro %}


{% macro cm_typed(expression, type) -%}
  {%- if type == 'timestamp with time zone' -%}
    (cast({{ expression }} as timestamp with time zone) at time zone 'UTC')
  {%- else -%}
    cast({{ expression }} as {{ type }})
  {%- endif -%}
{%- endmacro %}


{#
  Several staging models of one kind (the five event reports of a campaign, the five subscriber states)
  as one set of rows: each model's rows with a first column naming what they are. parts: a list of
  [staging model, label]; the models must have the same columns in the same order.
#}
{% macro cm_union_rows(parts, label_column) -%}
  {%- for model, label in parts %}
select '{{ label }}' as {{ label_column }}, rows_from_{{ loop.index }}.*
from {{ ref(model) }} as rows_from_{{ loop.index }}
{{ "union all" if not loop.last }}
  {%- endfor %}
{%- endmacro %}
