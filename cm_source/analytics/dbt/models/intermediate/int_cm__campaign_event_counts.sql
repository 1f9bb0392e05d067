-- One row per campaign with loaded events: how many rows and the latest (cm__campaign_events rebuilds a
-- campaign when either differs from what it holds, and its post-hook reads this table, so it must stay a
-- table), and the measures of cm_event_counts (cm__campaigns).
select
    source_relation,
    campaign_id,
    count(*) as events,
    max(date) as latest_event_at,
    {{ cm_event_counts() }}
from {{ ref('stg_cm__campaign_event_rows') }}
group by source_relation, campaign_id
