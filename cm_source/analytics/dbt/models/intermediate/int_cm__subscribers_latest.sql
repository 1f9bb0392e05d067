-- One row per list × person (the address compared case-insensitively) in their latest state: the latest
-- state change across the five state tables wins; on a tie, the later step of the life cycle (Active,
-- Unconfirmed, Unsubscribed, Bounced, Deleted, in the tables' order).
select
    source_relation, list_id, client_id, email_address, name, state, list_joined_date as joined_at,
    date as state_changed_at
from (
    select
        subscriber_rows.*,
        row_number() over (
            partition by source_relation, list_id, lower(email_address)
            order by date desc nulls last,
                case state when 'Deleted' then 1 when 'Bounced' then 2 when 'Unsubscribed' then 3
                    when 'Unconfirmed' then 4 else 5 end
        ) as recency
    from {{ ref('stg_cm__subscriber_rows') }} as subscriber_rows
) as ranked
where recency = 1
