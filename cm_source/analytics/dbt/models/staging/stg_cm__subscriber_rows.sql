-- Every subscriber row of the five state tables, its state the table it is in.
{{ cm_union_rows([
    ['stg_cm__active_subscribers', 'Active'], ['stg_cm__unconfirmed_subscribers', 'Unconfirmed'],
    ['stg_cm__unsubscribed_subscribers', 'Unsubscribed'], ['stg_cm__bounced_subscribers', 'Bounced'],
    ['stg_cm__deleted_subscribers', 'Deleted'],
], 'state') }}
