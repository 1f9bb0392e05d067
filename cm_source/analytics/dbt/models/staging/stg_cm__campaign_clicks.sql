-- One row per click in a campaign; identical rows are real repeats. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_clicks') }}
