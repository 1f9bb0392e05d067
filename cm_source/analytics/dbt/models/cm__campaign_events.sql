{#
  One row per open, click, bounce, unsubscribe and spam complaint, times in UTC.

  Incremental per campaign: the event tables an incremental load appends to carry no _dlt_load_id (they
  reach dlt as Arrow tables), so a campaign is rebuilt when its events' count or latest time in the
  loaded tables differs from this model's; other campaigns are left as they are. Campaigns whose events
  are no longer loaded (a full refresh with a later reports_sent_after) are removed after each run. A
  campaign is its source_relation and campaign_id: several accounts' datasets can be built together.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_relation', 'campaign_id'],
    post_hook="delete from {{ this }} where source_relation || '|' || campaign_id not in (select source_relation || '|' || campaign_id from {{ ref('int_cm__campaign_event_counts') }})",
) }}
-- depends_on: {{ ref('int_cm__campaign_event_counts') }}

with loaded as (
    select * from {{ ref('stg_cm__campaign_event_rows') }}
),

{% if is_incremental() %}
changed_campaigns as (
    select loaded_events.source_relation || '|' || loaded_events.campaign_id as campaign_key
    from {{ ref('int_cm__campaign_event_counts') }} as loaded_events
    left join (
        select source_relation, campaign_id, count(*) as events, max(occurred_at) as latest
        from {{ this }}
        group by source_relation, campaign_id
    ) as built_events
        on built_events.source_relation = loaded_events.source_relation
        and built_events.campaign_id = loaded_events.campaign_id
    where built_events.campaign_id is null
       or built_events.events <> loaded_events.events
       or built_events.latest <> loaded_events.latest_event_at
),
{% endif %}

numbered as (
    -- identical rows (one person's two clicks in one minute) are numbered, so each keeps a key of its own
    select
        loaded.*,
        row_number() over (
            partition by source_relation, campaign_id, event_type, list_id, email_address, date, url, bounce_type, reason,
                ip_address, city, region, country_code, country_name, latitude, longitude
            order by campaign_id
        ) as occurrence
    from loaded
    {% if is_incremental() %}
    where source_relation || '|' || campaign_id in (select campaign_key from changed_campaigns)
    {% endif %}
),

campaigns as (
    select source_relation, campaign_id, sent_date from {{ ref('stg_cm__campaigns') }}
)

select
    md5(
        numbered.source_relation || '|' || numbered.campaign_id || '|' || event_type || '|' || coalesce(list_id, '') || '|' || coalesce(email_address, '')
        || '|' || coalesce(cast(date as text), '') || '|' || coalesce(url, '') || '|' || coalesce(bounce_type, '')
        || '|' || coalesce(reason, '') || '|' || coalesce(ip_address, '') || '|' || coalesce(city, '')
        || '|' || coalesce(region, '') || '|' || coalesce(country_code, '') || '|' || coalesce(country_name, '')
        || '|' || coalesce(cast(latitude as text), '') || '|' || coalesce(cast(longitude as text), '')
        || '|' || cast(occurrence as text)
    ) as event_key,
    numbered.source_relation,
    numbered.campaign_id,
    client_id,
    list_id,
    email_address,
    event_type,
    date as occurred_at,
    cast(floor(extract(epoch from (date - campaigns.sent_date)) / 60) as bigint) as minutes_since_sent,
    url,
    bounce_type,
    reason as bounce_reason,
    ip_address,
    city,
    region,
    country_code,
    country_name,
    latitude,
    longitude,
    occurrence
from numbered
left join campaigns
    on campaigns.source_relation = numbered.source_relation and campaigns.campaign_id = numbered.campaign_id
