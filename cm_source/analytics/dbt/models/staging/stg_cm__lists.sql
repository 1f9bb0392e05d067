-- One row per subscriber list. The columns and types models/sources.yml declares.
{{ cm_source_rows('lists') }}
