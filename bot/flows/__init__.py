"""Use cases: one function per user action or job step.

A flow opens ONE session scope (`unit_of_work`), checks permission, calls services, records the
activity, queues the messages it owes in the outbox, commits, then delivers what it queued and
returns a small result the handler renders. Handlers, jobs and CLI verbs all call flows; services
below them know nothing of Slack.

- `outbox_keys`  every message kind and outbox key, each built and parsed in one place
- `unit`         the unit of work: one session, the clock, the messages owed, delivery on commit
- `messages`     how each kind of live message is rendered from the record at send time
- `delivery`     the outbox sender: claim, render, send, record, refresh what moved on meanwhile
- `registrations` every live message and after-send hook, registered explicitly
- `projects`     set up, edit, close a project; the intake message (a live message)
- `digest`       the weekly digest job, the PM preview and late question, `/digest preview|send`
- `reminders`    the daily reminder DMs, the nudges and escalations, snoozes
- `home`         the App Home
- `requirements` capture, edit, send for confirmation, the client's decision, team actions, lists
- `changes`      change requests: raise, assess (and revise), send for approval, decide, export
- `milestones`, `risks` (with `plan_scope`, the preamble they share)   the plan and the register
- `feedback`     satisfaction prompts, answers, comments, follow-ups for the PM
- `people`       who acts, as a flow sees them
"""
