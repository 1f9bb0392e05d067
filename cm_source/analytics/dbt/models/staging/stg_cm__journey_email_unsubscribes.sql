{{ config(enabled=var('cm_journeys')) }}
-- One row per unsubscribe from a journey email. The columns and types models/sources.yml declares.
{{ cm_source_rows('journey_email_unsubscribes') }}
