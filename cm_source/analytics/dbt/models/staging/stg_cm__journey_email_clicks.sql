{{ config(enabled=var('cm_journeys')) }}
-- One row per click in a journey email. The columns and types models/sources.yml declares.
{{ cm_source_rows('journey_email_clicks') }}
