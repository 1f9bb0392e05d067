-- One row per campaign × list × email it was sent to, with what that person did with it.
select
    recipients.source_relation,
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
from {{ ref('stg_cm__campaign_recipients') }} as recipients
left join {{ ref('int_cm__campaign_events_by_person') }} as by_person
    on by_person.source_relation = recipients.source_relation
    and by_person.campaign_id = recipients.campaign_id
    and by_person.list_id = recipients.list_id
    and by_person.email_key = lower(recipients.email_address)
