-- One row per sent campaign: its counts and rates from the loaded rows, beside the API's own summary.
with campaigns as (
    {{ cm_source_rows('campaigns', [['campaign_id', 'text'], ['client_id', 'text'], ['name', 'text'], ['sent_date', 'utc']]) }}
),

summaries as (
    {{ cm_source_rows('campaign_summaries', [
        ['campaign_id', 'text'], ['recipients', 'bigint'], ['total_opened', 'bigint'], ['unique_opened', 'bigint'],
        ['clicks', 'bigint'], ['bounced', 'bigint'], ['unsubscribed', 'bigint'], ['spam_complaints', 'bigint'],
    ]) }}
),

recipients as (
    select campaign_id, count(*) as recipients
    from ({{ cm_source_rows('campaign_recipients', [['campaign_id', 'text']]) }}) as recipient_rows
    group by campaign_id
),

events as (
    select campaign_id, {{ cm_event_counts() }}
    from {{ ref('cm__campaign_events') }}
    group by campaign_id
),

counted as (
    select
        campaigns.campaign_id,
        campaigns.client_id,
        campaigns.name,
        campaigns.sent_date as sent_at,
        coalesce(recipients.recipients, 0) as recipients,
        coalesce(events.bounced, 0) as bounced,
        coalesce(recipients.recipients, 0) - coalesce(events.bounced, 0) as delivered,
        coalesce(events.total_opens, 0) as total_opens,
        coalesce(events.unique_opens, 0) as unique_opens,
        coalesce(events.total_clicks, 0) as total_clicks,
        coalesce(events.unique_clicks, 0) as unique_clicks,
        coalesce(events.unsubscribes, 0) as unsubscribes,
        coalesce(events.spam_complaints, 0) as spam_complaints,
        coalesce(events.hard_bounces, 0) as hard_bounces,
        coalesce(events.soft_bounces, 0) as soft_bounces,
        summaries.recipients as api_recipients,
        summaries.total_opened as api_total_opened,
        summaries.unique_opened as api_unique_opened,
        summaries.clicks as api_clicks,
        summaries.bounced as api_bounced,
        summaries.unsubscribed as api_unsubscribed,
        summaries.spam_complaints as api_spam_complaints
    from campaigns
    left join recipients on recipients.campaign_id = campaigns.campaign_id
    left join events on events.campaign_id = campaigns.campaign_id
    left join summaries on summaries.campaign_id = campaigns.campaign_id
)

select *, {{ cm_rates() }}
from counted
