-- One row per list: the API's counters (list_stats) beside the counts in the loaded subscriber tables.
with counted as (
    select
        source_relation,
        list_id,
        sum(case when state = 'Active' then 1 else 0 end) as active_subscribers,
        sum(case when state = 'Unconfirmed' then 1 else 0 end) as unconfirmed_subscribers,
        sum(case when state = 'Unsubscribed' then 1 else 0 end) as unsubscribed_subscribers,
        sum(case when state = 'Bounced' then 1 else 0 end) as bounced_subscribers,
        sum(case when state = 'Deleted' then 1 else 0 end) as deleted_subscribers
    from {{ ref('int_cm__subscribers_latest') }}
    group by source_relation, list_id
),

side_by_side as (
    select
        lists.source_relation,
        lists.list_id,
        lists.client_id,
        lists.name,
        coalesce(counted.active_subscribers, 0) as active_subscribers,
        coalesce(counted.unconfirmed_subscribers, 0) as unconfirmed_subscribers,
        coalesce(counted.unsubscribed_subscribers, 0) as unsubscribed_subscribers,
        coalesce(counted.bounced_subscribers, 0) as bounced_subscribers,
        coalesce(counted.deleted_subscribers, 0) as deleted_subscribers,
        stats.total_active_subscribers as api_active_subscribers,
        stats.total_unsubscribes as api_unsubscribes,
        stats.total_bounces as api_bounces,
        stats.total_deleted as api_deleted
    from {{ ref('stg_cm__lists') }} as lists
    left join counted on counted.source_relation = lists.source_relation and counted.list_id = lists.list_id
    left join {{ ref('stg_cm__list_stats') }} as stats
        on stats.source_relation = lists.source_relation and stats.list_id = lists.list_id
)

select
    *,
    active_subscribers - api_active_subscribers as active_difference,
    unsubscribed_subscribers - api_unsubscribes as unsubscribed_difference,
    bounced_subscribers - api_bounces as bounced_difference,
    deleted_subscribers - api_deleted as deleted_difference
from side_by_side
