-- Every report event of every campaign, one row each, in one shape: opens, clicks, bounces, unsubscribes
-- and spam complaints, each with its event_type. The API gives events no ID; repeats are real and kept.
{{ cm_union_rows([
    ['stg_cm__campaign_opens', 'open'], ['stg_cm__campaign_clicks', 'click'], ['stg_cm__campaign_bounces', 'bounce'],
    ['stg_cm__campaign_unsubscribes', 'unsubscribe'], ['stg_cm__campaign_spam_complaints', 'spam_complaint'],
], 'event_type') }}
