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
        {{ cm_measures('recipients', 'events') }},
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
