-- One row per list × email: the subscriber's state now, and what they did with the campaigns sent to them.
with latest as (
    -- the latest state change across the five state tables wins; on a tie, the later step of the
    -- life cycle (Active, Unconfirmed, Unsubscribed, Bounced, Deleted, in the tables' order)
    select *
    from (
        select
            subscriber_rows.*,
            row_number() over (
                partition by list_id, lower(email_address)
                order by date desc nulls last,
                    case state when 'Deleted' then 1 when 'Bounced' then 2 when 'Unsubscribed' then 3
                        when 'Unconfirmed' then 4 else 5 end
            ) as recency
        from {{ ref('stg_cm__subscriber_rows') }} as subscriber_rows
    ) as ranked
    where recency = 1
),

suppressed as (
    select distinct client_id, lower(email_address) as email_key
    from ({{ cm_source_rows('suppression_list', [['client_id', 'text'], ['email_address', 'text']]) }}) as suppression_rows
),

received as (
    select list_id, lower(email_address) as email_key, count(distinct campaign_id) as campaigns_received
    from ({{ cm_source_rows('campaign_recipients', [['campaign_id', 'text'], ['list_id', 'text'], ['email_address', 'text']]) }}) as recipient_rows
    group by list_id, lower(email_address)
),

engaged as (
    select
        list_id,
        lower(email_address) as email_key,
        count(distinct case when event_type = 'open' then campaign_id end) as campaigns_opened,
        count(distinct case when event_type = 'click' then campaign_id end) as campaigns_clicked,
        max(case when event_type = 'open' then occurred_at end) as last_opened_at,
        max(case when event_type = 'click' then occurred_at end) as last_clicked_at
    from {{ ref('cm__campaign_events') }}
    where event_type in ('open', 'click')
    group by list_id, lower(email_address)
)

select
    latest.list_id,
    latest.client_id,
    latest.email_address,
    latest.name,
    latest.state,
    latest.list_joined_date as joined_at,
    latest.date as state_changed_at,
    suppressed.email_key is not null as is_suppressed,
    coalesce(received.campaigns_received, 0) as campaigns_received,
    coalesce(engaged.campaigns_opened, 0) as campaigns_opened,
    coalesce(engaged.campaigns_clicked, 0) as campaigns_clicked,
    engaged.last_opened_at,
    engaged.last_clicked_at
from latest
left join suppressed
    on suppressed.client_id = latest.client_id and suppressed.email_key = lower(latest.email_address)
left join received
    on received.list_id = latest.list_id and received.email_key = lower(latest.email_address)
left join engaged
    on engaged.list_id = latest.list_id and engaged.email_key = lower(latest.email_address)
