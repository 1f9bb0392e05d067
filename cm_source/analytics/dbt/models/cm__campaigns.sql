-- One row per sent campaign: its counts and rates from the loaded rows, beside the API's own summary.
with recipients as (
    select source_relation, campaign_id, count(*) as recipients
    from {{ ref('stg_cm__campaign_recipients') }}
    group by source_relation, campaign_id
),

counted as (
    select
        campaigns.source_relation,
        campaigns.campaign_id,
        campaigns.client_id,
        campaigns.name,
        campaigns.subject,
        campaigns.sent_date as sent_at,
        {{ cm_measures('recipients', 'events') }},
        summaries.recipients as api_recipients,
        summaries.total_opened as api_total_opened,
        summaries.unique_opened as api_unique_opened,
        summaries.clicks as api_clicks,
        summaries.bounced as api_bounced,
        summaries.unsubscribed as api_unsubscribed,
        summaries.spam_complaints as api_spam_complaints
    from {{ ref('stg_cm__campaigns') }} as campaigns
    left join recipients
        on recipients.source_relation = campaigns.source_relation and recipients.campaign_id = campaigns.campaign_id
    left join {{ ref('int_cm__campaign_event_counts') }} as events
        on events.source_relation = campaigns.source_relation and events.campaign_id = campaigns.campaign_id
    left join {{ ref('stg_cm__campaign_summaries') }} as summaries
        on summaries.source_relation = campaigns.source_relation and summaries.campaign_id = campaigns.campaign_id
)

select *, {{ cm_rates() }}
from counted
