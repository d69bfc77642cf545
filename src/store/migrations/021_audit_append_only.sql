-- The audit trail is append-only (issue 8): the database itself refuses to change or remove an entry, whatever the
-- client. The hash chain (src/governance/audit.ts) detects an edit after the fact; this guard stops it from
-- happening through Carelane or an ordinary SQL session. A statement-level trigger refuses UPDATE, DELETE and
-- TRUNCATE outright, even one that would touch no row, so nobody can probe the guard or lean on a WHERE clause.
-- Only the table's owner or a superuser can switch it off (ALTER TABLE ... DISABLE TRIGGER), and doing so is
-- itself visible in the PostgreSQL log: see docs/operations.md "Audit trail".
create function carelane.refuse_audit_log_change() returns trigger
language plpgsql as $$
begin
  raise exception 'carelane.audit_log is append-only: % is refused', tg_op
    using errcode = 'insufficient_privilege',
          detail = 'Audit entries are hash-chained evidence (who did what, when); they are never edited or deleted, retention does not apply to them.',
          hint = 'Record a correction as a new entry. To verify the trail run "carelane audit verify".';
end;
$$;

create trigger audit_log_append_only
  before update or delete or truncate on carelane.audit_log
  for each statement execute function carelane.refuse_audit_log_change();
