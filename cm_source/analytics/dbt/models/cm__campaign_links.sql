-- One row per campaign × URL clicked.
select
    campaign_id,
    client_id,
    url,
    count(*) as clicks,
    count(distinct lower(email_address)) as unique_clickers,
    min(occurred_at) as first_clicked_at,
    max(occurred_at) as last_clicked_at
from {{ ref('cm__campaign_events') }}
where event_type = 'click'
group by campaign_id, client_id, url
