-- 0005_org_secret_versions: the database counts the changes of each org's
-- secrets, so that a server sees within about 250 ms that another process
-- on the same file changed them (SQLite has no notifications between
-- processes). Servers cache each org's usable credential names for
-- discovery (list_offered_models) and forget them when the total of
-- org_secret_versions.version has changed (sqlite.DB.ListenOrgSecrets).
-- Triggers, not the store's Go code, keep the count, so every writer is
-- seen: this server, another one, the command line, an older binary.
--
-- PostgreSQL's migration 0005 notifies instead; this table is the embedded
-- store's only.

CREATE TABLE org_secret_versions (
    -- org is the org whose secrets changed.
    org     TEXT    NOT NULL PRIMARY KEY,
    -- version counts the rows of org_secrets of the org that were inserted,
    -- updated (a new value, a check's verdict, a resealed value) or
    -- deleted since this migration. Written only by the triggers below; it
    -- only grows, and the row is never deleted, so every change grows the
    -- table's total by one.
    version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER org_secrets_count_insert AFTER INSERT ON org_secrets BEGIN
    INSERT INTO org_secret_versions (org, version) VALUES (NEW.org, 1)
        ON CONFLICT (org) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER org_secrets_count_update AFTER UPDATE ON org_secrets BEGIN
    INSERT INTO org_secret_versions (org, version) VALUES (NEW.org, 1)
        ON CONFLICT (org) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER org_secrets_count_delete AFTER DELETE ON org_secrets BEGIN
    INSERT INTO org_secret_versions (org, version) VALUES (OLD.org, 1)
        ON CONFLICT (org) DO UPDATE SET version = version + 1;
END;
