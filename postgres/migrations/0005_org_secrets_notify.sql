-- 0005_org_secrets_notify: every change of an org's secrets notifies the
-- channel modelgate_org_secrets, with the table's schema and the org as
-- payload ("schema/org": an org name holds no '/'), from the changing
-- transaction (PostgreSQL delivers it when that commits), so that
-- every server forgets what it cached of the org's secrets (discovery's
-- usable credential names, postgres.DB.ListenOrgSecrets) milliseconds
-- after the commit. A trigger, not the store's Go code, sends it, so every
-- writer is heard: this server, another replica, the command line, an
-- older binary.
--
-- The channel is the database's, not the schema's, so the payload names the
-- schema: a listener ignores the changes of stores in other schemas of the
-- same database (several deployments, or tests, side by side).
--
-- A notifying transaction commits under a database-wide lock (see
-- notifier in notify.go); secrets change rarely, so that costs nothing
-- here. Identical notifications of one transaction are delivered once, so
-- a batch of RotateSecrets sends one per org.
--
-- The embedded store counts the changes in a table instead (sqlite 0005).

CREATE FUNCTION notify_org_secrets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('modelgate_org_secrets', TG_TABLE_SCHEMA || '/' || OLD.org);
    ELSE
        PERFORM pg_notify('modelgate_org_secrets', TG_TABLE_SCHEMA || '/' || NEW.org);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER org_secrets_notify AFTER INSERT OR UPDATE OR DELETE ON org_secrets
    FOR EACH ROW EXECUTE FUNCTION notify_org_secrets_changed();
