{#-
    Every outcome known for an application, with the interval in which it is the one in force.
    The one home of the rule "which label counts when": per application, labels are ordered by
    known_from (null, the history file, first) then label_source, and each is in force from its
    known_from until the next one's. The label as of month M is the one whose interval holds M;
    the label known today is the one without a successor. Outcomes delivered later therefore
    never reach an earlier month's model.
-#}

with

application_file_labels as (

    -- An outcome delivered in the application file itself is known with the file:
    -- the history's from the start (null), a month file's from its month.
    select
        sk_id_curr,
        target,
        application_month as known_from,
        delivery_file as label_source,
        loaded_at
    from {{ ref('stg_home_credit__applications') }}
    where target is not null

),

outcome_file_labels as (

    select
        sk_id_curr,
        target,
        known_from,
        delivery_file as label_source,
        loaded_at
    from {{ ref('stg_home_credit__outcomes') }}

),

labels as (

    select * from application_file_labels
    union all
    select * from outcome_file_labels

),

final as (

    select
        sk_id_curr,
        target,
        known_from,
        label_source,
        -- The load of that delivery the label was built from (the training step checks it is the one in force).
        loaded_at,
        -- A label superseded on the day it became known (a later label_source the same month)
        -- gets the empty interval [known_from, known_from): it is never in force. Only the
        -- history file's label is known from the start (one per application, tested), so a
        -- successor always has a known_from and a null here means "no successor".
        lead(known_from) over (
            partition by sk_id_curr order by known_from asc nulls first, label_source asc
        ) as superseded_from
    from labels

)

select * from final
