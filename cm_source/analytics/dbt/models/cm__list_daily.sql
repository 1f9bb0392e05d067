{#
  One row per list × day with any change, the day in the list's client's time zone.

  A subscriber counts as a join on the day they joined (unconfirmed ones have not joined yet), and as a
  leave on the day of their current state's change. The state tables keep only each subscriber's latest
  state, so a resubscribe's history is gone: someone who unsubscribed and came back counts as one join
  on their first joining day, and their unsubscribe is not seen. The running total therefore ends at
  the list's current active subscribers.
#}
with changes as (
    select subscribers.source_relation, subscribers.list_id, subscribers.client_id, subscribers.state,
        subscribers.joined_at, subscribers.state_changed_at, zones.iana_zone
    from {{ ref('int_cm__subscribers_latest') }} as subscribers
    left join {{ ref('int_cm__client_time_zones') }} as zones
        on zones.source_relation = subscribers.source_relation and zones.client_id = subscribers.client_id
),

counted as (
    select source_relation, list_id, client_id, {{ cm_local_day('joined_at', "coalesce(iana_zone, 'UTC')") }} as day,
        1 as joins, 0 as unsubscribes, 0 as bounces, 0 as deletions
    from changes
    where state <> 'Unconfirmed'
    union all
    select source_relation, list_id, client_id, {{ cm_local_day('state_changed_at', "coalesce(iana_zone, 'UTC')") }} as day,
        0 as joins,
        case when state = 'Unsubscribed' then 1 else 0 end as unsubscribes,
        case when state = 'Bounced' then 1 else 0 end as bounces,
        case when state = 'Deleted' then 1 else 0 end as deletions
    from changes
    where state in ('Unsubscribed', 'Bounced', 'Deleted')
),

daily as (
    select source_relation, list_id, client_id, day, sum(joins) as joins, sum(unsubscribes) as unsubscribes,
        sum(bounces) as bounces, sum(deletions) as deletions
    from counted
    group by source_relation, list_id, client_id, day
)

select
    source_relation,
    list_id,
    client_id,
    day,
    joins,
    unsubscribes,
    bounces,
    deletions,
    joins - unsubscribes - bounces - deletions as net_change,
    cast(sum(joins - unsubscribes - bounces - deletions) over (
        partition by source_relation, list_id order by day rows between unbounded preceding and current row
    ) as bigint) as active_subscribers
from daily
