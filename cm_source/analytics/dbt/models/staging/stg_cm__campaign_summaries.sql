-- One row per sent campaign: the API's summary of its report. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_summaries') }}
