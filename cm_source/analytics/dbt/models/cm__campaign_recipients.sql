-- One row per campaign × list × email it was sent to, with what that person did with it.
with recipients as (
    {{ cm_source_rows('campaign_recipients', [
        ['campaign_id', 'text'], ['client_id', 'text'], ['list_id', 'text'], ['email_address', 'text'],
    ]) }}
),

by_person as (
    select
        campaign_id,
        list_id,
        lower(email_address) as email_key,
        sum(case when event_type = 'open' then 1 else 0 end) as opens,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks,
        sum(case when event_type = 'bounce' then 1 else 0 end) as bounces,
        min(case when event_type = 'bounce' then bounce_type end) as bounce_type,  -- 'Hard' before 'Soft'
        sum(case when event_type = 'unsubscribe' then 1 else 0 end) as unsubscribes,
        sum(case when event_type = 'spam_complaint' then 1 else 0 end) as spam_complaints,
        min(case when event_type = 'open' then occurred_at end) as first_opened_at,
        min(case when event_type = 'click' then occurred_at end) as first_clicked_at
    from {{ ref('cm__campaign_events') }}
    group by campaign_id, list_id, lower(email_address)
)

select
    recipients.campaign_id,
    recipients.client_id,
    recipients.list_id,
    recipients.email_address,
    coalesce(by_person.opens, 0) as opens,
    coalesce(by_person.clicks, 0) as clicks,
    coalesce(by_person.opens, 0) > 0 as was_opened,
    coalesce(by_person.clicks, 0) > 0 as was_clicked,
    coalesce(by_person.bounces, 0) > 0 as was_bounced,
    by_person.bounce_type,
    coalesce(by_person.unsubscribes, 0) > 0 as was_unsubscribed,
    coalesce(by_person.spam_complaints, 0) > 0 as was_spam_complaint,
    by_person.first_opened_at,
    by_person.first_clicked_at
from recipients
left join by_person
    on by_person.campaign_id = recipients.campaign_id
    and by_person.list_id = recipients.list_id
    and by_person.email_key = lower(recipients.email_address)
