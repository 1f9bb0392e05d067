-- One row per client: the IANA zone of its Campaign Monitor time zone (an IANA name as it is, an unknown
-- one UTC), looked up in the cm_time_zones seed. Ephemeral: cm__list_daily alone reads it.
{{ config(materialized='ephemeral') }}
select
    clients.source_relation,
    clients.client_id,
    coalesce(case when clients.time_zone like '%/%' then clients.time_zone end, seed.iana_zone, 'UTC') as iana_zone
from {{ ref('stg_cm__clients') }} as clients
left join {{ ref('cm_time_zones') }} as seed on seed.place = {{ cm_zone_place('clients.time_zone') }}
