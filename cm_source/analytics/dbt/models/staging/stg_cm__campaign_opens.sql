-- One row per open of a campaign; identical rows are real repeats. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_opens') }}
