-- Every report event of every campaign, one row each, in one shape: opens, clicks, bounces, unsubscribes
-- and spam complaints. The API gives events no ID; repeats are real and kept.
{%- set columns = [
    ['campaign_id', 'text'], ['client_id', 'text'], ['list_id', 'text'], ['email_address', 'text'],
    ['date', 'utc'], ['url', 'text'], ['bounce_type', 'text'], ['reason', 'text'], ['ip_address', 'text'],
    ['city', 'text'], ['region', 'text'], ['country_code', 'text'], ['country_name', 'text'],
    ['latitude', 'double precision'], ['longitude', 'double precision'],
] %}
{{ cm_union_rows(cm_campaign_event_tables(), columns, 'event_type') }}
