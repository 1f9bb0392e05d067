-- One row per unsubscribe from a campaign. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_unsubscribes') }}
