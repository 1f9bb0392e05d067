-- One row per bounce of a campaign. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_bounces') }}
