{#
  One row per sent campaign in the shared shape of Fivetran's <tool>__marketing_campaigns_standardized
  models (fivetran/dbt_hubspot PR 146), so a team can union Campaign Monitor with its other email tools:
  the same columns, in the same order, with the same types (campaign_id is text: Campaign Monitor's IDs
  are hex strings). What Campaign Monitor has no figure for is null, cast to the column's type. The list
  of columns and where each comes from: tests/fixtures/fivetran/marketing_campaigns_standardized.json and
  docs/standardized-campaigns.md.

  A layer after the final models: it reads cm__campaigns only, so its figures are that model's.
#}
select
    cast(campaign_id as text) as campaign_id,
    cast(name as text) as campaign_name,
    cast(null as text) as campaign_type,
    cast(null as integer) as campaign_sub_type,
    cast(subject as text) as campaign_subject,
    cast(null as bigint) as secondary_id,
    cast(null as timestamp) as created_at,
    cast(null as timestamp) as updated_at,
    cast(bounced as numeric) as total_bounces,
    cast(total_clicks as numeric) as total_clicks,
    cast(null as numeric) as total_deferrals,
    cast(delivered as numeric) as total_deliveries,
    cast(total_opens as numeric) as total_opens,
    cast(unsubscribes as numeric) as total_unsubscribes,
    cast(unique_clicks as bigint) as total_unique_clicks,
    cast(unique_opens as bigint) as total_unique_opens
from {{ ref('cm__campaigns') }}
