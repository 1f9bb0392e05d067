{{ config(enabled=var('cm_journeys')) }}
-- One row per journey email, with the same measures as cm__campaigns (journeys report no spam complaints).
with recipients as (
    select source_relation, email_id, count(*) as recipients
    from {{ ref('stg_cm__journey_email_recipients') }}
    group by source_relation, email_id
),

events as (
    select source_relation, email_id, {{ cm_event_counts() }}
    from {{ ref('stg_cm__journey_event_rows') }}
    group by source_relation, email_id
),

counted as (
    select
        emails.source_relation,
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
    from {{ ref('stg_cm__journey_emails') }} as emails
    left join {{ ref('stg_cm__journeys') }} as journeys
        on journeys.source_relation = emails.source_relation and journeys.journey_id = emails.journey_id
    left join recipients on recipients.source_relation = emails.source_relation and recipients.email_id = emails.email_id
    left join events on events.source_relation = emails.source_relation and events.email_id = emails.email_id
)

select *, {{ cm_rates() }}
from counted
