-- One row per campaign × list × person (the address in lower case) with any event: what they did with it.
select
    source_relation,
    campaign_id,
    list_id,
    lower(email_address) as email_key,
    sum(case when event_type = 'open' then 1 else 0 end) as opens,
    sum(case when event_type = 'click' then 1 else 0 end) as clicks,
    sum(case when event_type = 'bounce' then 1 else 0 end) as bounces,
    min(case when event_type = 'bounce' then bounce_type end) as bounce_type,  -- 'Hard' before 'Soft'
    sum(case when event_type = 'unsubscribe' then 1 else 0 end) as unsubscribes,
    sum(case when event_type = 'spam_complaint' then 1 else 0 end) as spam_complaints,
    min(case when event_type = 'open' then date end) as first_opened_at,
    max(case when event_type = 'open' then date end) as last_opened_at,
    min(case when event_type = 'click' then date end) as first_clicked_at,
    max(case when event_type = 'click' then date end) as last_clicked_at
from {{ ref('stg_cm__campaign_event_rows') }}
group by source_relation, campaign_id, list_id, lower(email_address)
