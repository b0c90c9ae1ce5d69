-- 0003_credential_checks: live credential checks (CONTRACT.md §8).
--
-- A stored secret carries the verdict of its last live check, so that the
-- provisioner re-checks only a key whose last check is older than its
-- --verify-max-age, and so that a key the provider rejected counts as no
-- key (OrgSecretNames leaves it out).

-- checked_at is when a provider last gave a verdict on the value (NULL:
-- never checked, or no check gave a verdict). Written with the value by
-- SetOrgSecret / CreateWorkspace and by RecordSecretCheck. rejected_at is
-- when a provider rejected the stored value (NULL: it did not); set by
-- RecordSecretCheck, cleared by SetOrgSecret with a new value.
ALTER TABLE org_secrets ADD COLUMN checked_at timestamptz, ADD COLUMN rejected_at timestamptz;
ALTER TABLE workspace_secrets ADD COLUMN checked_at timestamptz, ADD COLUMN rejected_at timestamptz;

-- Every live check, with its verdict; never the value nor the response.
CREATE TABLE credential_checks (
    -- org owns the key. Not a foreign key: a refused key from an org that
    -- never wrote anything is audited too, and auditing must not create it.
    org          text        NOT NULL,
    -- id is a time-ordered UUID (version 7): it breaks ties of at.
    id           uuid        NOT NULL,
    -- at is when the check started.
    at           timestamptz NOT NULL,
    -- provider is the catalog provider whose check was made; name is the
    -- credential name checked.
    provider     text        NOT NULL,
    name         text        NOT NULL,
    -- scope is 'org' or 'workspace'; workspace_id names the workspace of a
    -- workspace secret re-checked by the provisioner (NULL otherwise).
    scope        text        NOT NULL CHECK (scope IN ('org', 'workspace')),
    workspace_id uuid,
    -- verdict is 'valid', 'rejected' or 'unchecked' (no verdict: reason
    -- says why); status is the HTTP status answered (0: none).
    verdict      text        NOT NULL CHECK (verdict IN ('valid', 'rejected', 'unchecked')),
    status       integer     NOT NULL,
    reason       text        NOT NULL,
    -- latency_us is how long the request took, in microseconds.
    latency_us   bigint      NOT NULL,
    PRIMARY KEY (org, at, id)
);
