{{ config(enabled=var('cm_journeys')) }}
-- One row per journey email, with the API's counts of it. The columns and types models/sources.yml declares.
{{ cm_source_rows('journey_emails') }}
