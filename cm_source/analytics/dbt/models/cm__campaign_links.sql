-- One row per campaign × URL clicked.
select
    source_relation,
    campaign_id,
    client_id,
    url,
    count(*) as clicks,
    count(distinct lower(email_address)) as unique_clickers,
    min(date) as first_clicked_at,
    max(date) as last_clicked_at
from {{ ref('stg_cm__campaign_event_rows') }}
where event_type = 'click'
group by source_relation, campaign_id, client_id, url
