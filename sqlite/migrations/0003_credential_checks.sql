-- 0003_credential_checks: live credential checks (CONTRACT.md §8).
--
-- A stored secret carries the verdict of its last live check, so that the
-- provisioner re-checks only a key whose last check is older than its
-- --verify-max-age, and so that a key the provider rejected counts as no
-- key (OrgSecretNames leaves it out).

-- checked_at is when a provider last gave a verdict on the value (NULL:
-- never checked, or no check gave a verdict). Written with the value by
-- SetOrgSecret / CreateWorkspace and by RecordSecretCheck.
ALTER TABLE org_secrets ADD COLUMN checked_at TEXT;
-- rejected_at is when a provider rejected the stored value (NULL: it did
-- not). Set by RecordSecretCheck; SetOrgSecret clears it with a new value.
ALTER TABLE org_secrets ADD COLUMN rejected_at TEXT;
ALTER TABLE workspace_secrets ADD COLUMN checked_at TEXT;
ALTER TABLE workspace_secrets ADD COLUMN rejected_at TEXT;

-- Every live check, with its verdict; never the value nor the response.
CREATE TABLE credential_checks (
    -- org owns the key. Not a foreign key: a refused key from an org that
    -- never wrote anything is audited too, and auditing must not create it.
    org          TEXT    NOT NULL,
    -- id is a time-ordered UUID (version 7): it breaks ties of at.
    id           TEXT    NOT NULL,
    -- at is when the check started.
    at           TEXT    NOT NULL,
    -- provider is the catalog provider whose check was made; name is the
    -- credential name checked.
    provider     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    -- scope is 'org' or 'workspace'; workspace_id names the workspace of a
    -- workspace secret re-checked by the provisioner (NULL otherwise).
    scope        TEXT    NOT NULL CHECK (scope IN ('org', 'workspace')),
    workspace_id TEXT,
    -- verdict is 'valid', 'rejected' or 'unchecked' (no verdict: reason
    -- says why); status is the HTTP status answered (0: none).
    verdict      TEXT    NOT NULL CHECK (verdict IN ('valid', 'rejected', 'unchecked')),
    status       INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    -- latency_us is how long the request took, in microseconds.
    latency_us   INTEGER NOT NULL,
    PRIMARY KEY (org, at, id)
) STRICT, WITHOUT ROWID;
