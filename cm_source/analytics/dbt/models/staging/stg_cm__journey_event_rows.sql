{{ config(enabled=var('cm_journeys')) }}
-- Every report event of every journey email (opens, clicks, bounces, unsubscribes), one row each.
{%- set columns = [
    ['journey_id', 'text'], ['email_id', 'text'], ['client_id', 'text'], ['email_address', 'text'],
    ['date', 'utc'], ['url', 'text'], ['bounce_type', 'text'],
] %}
{%- set reports = [
    ['journey_email_opens', 'open'], ['journey_email_clicks', 'click'], ['journey_email_bounces', 'bounce'],
    ['journey_email_unsubscribes', 'unsubscribe'],
] %}
{{ cm_union_rows(reports, columns, 'event_type') }}
