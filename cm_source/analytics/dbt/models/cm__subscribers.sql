-- One row per list × email: the subscriber's state now, and what they did with the campaigns sent to them.
with suppressed as (
    select distinct source_relation, client_id, lower(email_address) as email_key
    from {{ ref('stg_cm__suppression_list') }}
),

received as (
    select source_relation, list_id, lower(email_address) as email_key, count(distinct campaign_id) as campaigns_received
    from {{ ref('stg_cm__campaign_recipients') }}
    group by source_relation, list_id, lower(email_address)
),

engaged as (
    select
        source_relation,
        list_id,
        email_key,
        count(distinct case when opens > 0 then campaign_id end) as campaigns_opened,
        count(distinct case when clicks > 0 then campaign_id end) as campaigns_clicked,
        max(last_opened_at) as last_opened_at,
        max(last_clicked_at) as last_clicked_at
    from {{ ref('int_cm__campaign_events_by_person') }}
    group by source_relation, list_id, email_key
)

select
    latest.source_relation,
    latest.list_id,
    latest.client_id,
    latest.email_address,
    latest.name,
    latest.state,
    latest.joined_at,
    latest.state_changed_at,
    suppressed.email_key is not null as is_suppressed,
    coalesce(received.campaigns_received, 0) as campaigns_received,
    coalesce(engaged.campaigns_opened, 0) as campaigns_opened,
    coalesce(engaged.campaigns_clicked, 0) as campaigns_clicked,
    engaged.last_opened_at,
    engaged.last_clicked_at
from {{ ref('int_cm__subscribers_latest') }} as latest
left join suppressed
    on suppressed.source_relation = latest.source_relation and suppressed.client_id = latest.client_id
    and suppressed.email_key = lower(latest.email_address)
left join received
    on received.source_relation = latest.source_relation and received.list_id = latest.list_id
    and received.email_key = lower(latest.email_address)
left join engaged
    on engaged.source_relation = latest.source_relation and engaged.list_id = latest.list_id
    and engaged.email_key = lower(latest.email_address)
