"""helpdesk: a small synchronous support-ticket service, migrated by cutover.

Agents open, assign and resolve tickets (:mod:`.app`); on each write the service calls two
other services synchronously over HTTP (:mod:`.services`): a **notifier** that e-mails the
requester or the assignee, and a **search index** that indexes the ticket's text. Through
cutover's public surface only (``cutover``, ``cutover.flask``, ``cutover.shadow``) it writes
its events to the outbox in the same transaction, reads each context's mode from
``cutover.ModeSwitch`` and runs each sync call or its event path as that mode says
(:mod:`.tickets`). :mod:`.shadow` derives the same outcomes from the events; ``plan.yaml``
ties it together. See ``docs/your-system.md``.
"""
