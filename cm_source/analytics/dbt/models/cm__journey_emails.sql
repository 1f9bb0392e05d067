{{ config(enabled=var('cm_journeys')) }}
-- One row per journey email, with the same measures as cm__campaigns (journeys report no spam complaints).
with emails as (
    {{ cm_source_rows('journey_emails', [
        ['journey_id', 'text'], ['email_id', 'text'], ['client_id', 'text'], ['name', 'text'], ['sent', 'bigint'],
        ['opened', 'bigint'], ['unique_opened', 'bigint'], ['clicked', 'bigint'], ['bounced', 'bigint'],
        ['unsubscribed', 'bigint'],
    ]) }}
),

journeys as (
    {{ cm_source_rows('journeys', [['journey_id', 'text'], ['name', 'text']]) }}
),

recipients as (
    select email_id, count(*) as recipients
    from ({{ cm_source_rows('journey_email_recipients', [['email_id', 'text']]) }}) as recipient_rows
    group by email_id
),

events as (
    select email_id, {{ cm_event_counts() }}
    from {{ ref('stg_cm__journey_event_rows') }}
    group by email_id
),

counted as (
    select
        emails.journey_id,
        emails.email_id,
        emails.client_id,
        journeys.name as journey_name,
        emails.name,
        {{ cm_measures('recipients', 'events') }},
        emails.sent as api_recipients,
        emails.opened as api_total_opened,
        emails.unique_opened as api_unique_opened,
        emails.clicked as api_clicks,
        emails.bounced as api_bounced,
        emails.unsubscribed as api_unsubscribed
    from emails
    left join journeys on journeys.journey_id = emails.journey_id
    left join recipients on recipients.email_id = emails.email_id
    left join events on events.email_id = emails.email_id
)

select *, {{ cm_rates() }}
from counted
