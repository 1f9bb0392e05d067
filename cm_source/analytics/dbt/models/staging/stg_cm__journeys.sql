{{ config(enabled=var('cm_journeys')) }}
-- One row per journey. The columns and types models/sources.yml declares.
{{ cm_source_rows('journeys') }}
