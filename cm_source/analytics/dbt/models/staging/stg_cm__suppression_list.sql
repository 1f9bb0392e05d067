-- One row per client × suppressed email. The columns and types models/sources.yml declares.
{{ cm_source_rows('suppression_list') }}
