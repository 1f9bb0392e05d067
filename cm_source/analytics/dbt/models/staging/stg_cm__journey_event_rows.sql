{{ config(enabled=var('cm_journeys')) }}
-- Every report event of every journey email (opens, clicks, bounces, unsubscribes), one row each.
{{ cm_union_rows([
    ['stg_cm__journey_email_opens', 'open'], ['stg_cm__journey_email_clicks', 'click'],
    ['stg_cm__journey_email_bounces', 'bounce'], ['stg_cm__journey_email_unsubscribes', 'unsubscribe'],
], 'event_type') }}
