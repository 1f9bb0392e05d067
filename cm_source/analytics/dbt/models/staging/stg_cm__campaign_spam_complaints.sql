-- One row per spam complaint about a campaign. The columns and types models/sources.yml declares.
{{ cm_source_rows('campaign_spam_complaints') }}
