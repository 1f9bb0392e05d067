-- One row per campaign × list × email it was sent to. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_recipients') }}
