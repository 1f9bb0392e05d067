-- One row per client. The columns and types models/sources.yml declares.
{{ cm_source_rows('clients') }}
