-- One row per sent campaign. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaigns') }}
